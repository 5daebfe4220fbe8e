"""Rasa's calls to the action server carry the time they were sent (bot/action_timeout.py)."""

from __future__ import annotations

import time

from core.internal_calls import SENT_AT_HEADER
from tests.bot.helpers import run_in_rasa_env

PROBE = """
import asyncio, sys
from aiohttp import web
import bot  # installs the project's patches, as Rasa does when it loads the lock store
from rasa.utils.endpoints import EndpointConfig

seen = {}

async def webhook(request):
    seen.update(request.headers)
    return web.json_response({"events": [], "responses": []})

async def main():
    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"Authorization": "Bearer t"})
    await endpoint.request(json={}, method="post")
    await runner.cleanup()
    print(f"{seen.get(sys.argv[1])}|{seen.get('Authorization')}")

asyncio.run(main())
"""


def test_every_call_is_stamped_with_the_time_rasa_sent_it() -> None:
    before = time.time()
    stamp, authorization = run_in_rasa_env(PROBE, SENT_AT_HEADER).split("|")
    assert before - 1 <= float(stamp) <= time.time()
    assert authorization == "Bearer t"  # the endpoint's own headers are kept
