"""bot/rest_channel.py and bot/action_timeout.py, inside the rasa env as the Rasa server runs them."""

from __future__ import annotations

import json
import time

import jwt

from api.security import ServiceToken
from tests.bot.helpers import run_in_rasa_env

SECRET = "rest-channel-test-secret-0123456789abcdef"

VERIFY_PROBE = """
import json, sys
from bot.rest_channel import verify_service_jwt
print(json.dumps([verify_service_jwt(header, sys.argv[1]) for header in json.loads(sys.argv[2])]))
"""


def test_the_rest_channel_accepts_only_the_hubs_unexpired_admin_jwt() -> None:
    now = int(time.time())
    headers = [
        ServiceToken(SECRET).headers()["Authorization"],  # what the hub sends
        None,
        "",
        "Bearer",
        "Basic " + ServiceToken(SECRET).token(),
        ServiceToken("another-secret-0123456789abcdefghijk").headers()["Authorization"],
        "Bearer " + jwt.encode({"user": {"role": "admin"}, "exp": now - 10}, SECRET, algorithm="HS256"),
        "Bearer " + jwt.encode({"user": {"role": "user", "username": "x"}, "exp": now + 60}, SECRET, algorithm="HS256"),
        "Bearer " + jwt.encode({"user": {"role": "admin"}}, SECRET, algorithm="HS256"),  # no expiry
        "Bearer " + jwt.encode({"user": {"role": "admin"}, "exp": now + 60}, SECRET, algorithm="HS512"),
    ]
    verdicts = json.loads(run_in_rasa_env(VERIFY_PROBE, SECRET, json.dumps(headers)))
    assert verdicts == [True] + [False] * (len(headers) - 1)


TIMEOUT_PROBE = """
import asyncio, json, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer
import bot  # installs the fixes the way the Rasa server does
from rasa.core.actions import action
from rasa.utils.endpoints import EndpointConfig

class SlowActionServer(BaseHTTPRequestHandler):
    def do_POST(self):
        time.sleep(15)
    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), SlowActionServer)
threading.Thread(target=server.serve_forever, daemon=True).start()
endpoint = EndpointConfig(url=f"http://127.0.0.1:{server.server_port}/webhook")
try:
    # Exactly the call RemoteAction.run makes.
    asyncio.run(endpoint.request(json={}, method="post", timeout=action.DEFAULT_REQUEST_TIMEOUT))
    outcome = "answered"
except asyncio.TimeoutError:
    outcome = "gave up"
print(json.dumps([action.DEFAULT_REQUEST_TIMEOUT, outcome]))
"""


def test_rasa_gives_up_on_a_slow_action_server_after_action_timeout_seconds() -> None:
    timeout, outcome = json.loads(run_in_rasa_env(TIMEOUT_PROBE, env_extra={"ACTION_TIMEOUT_SECONDS": "0.5"}))
    assert timeout == 0.5
    assert outcome == "gave up"


def test_without_the_setting_rasas_default_stays() -> None:
    probe = "import bot; from rasa.core.actions import action; print(action.DEFAULT_REQUEST_TIMEOUT)"
    assert run_in_rasa_env(probe, env_extra={"ACTION_TIMEOUT_SECONDS": ""}) == "300"
