"""`python -m stack`: prepare the database and model, start and supervise every service, stop them on Ctrl-C.

`python -m stack status` shows the state of each service of a running `make run`.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from core.settings import Settings, get_settings_or_exit
from crm.db import get_sessionmaker
from crm.services.accounts import demo_login_lines
from stack.database import prepare_database
from stack.model import ensure_model, training_fingerprint
from stack.paths import LOG_DIR, STATUS_FILE
from stack.processes import port_free, service_specs
from stack.supervisor import ServiceFailedError, Supervisor, format_status
from training.rasa_cli import TrainingFailedError
from training.store import model_to_serve

logger = logging.getLogger("stack")
READY_TIMEOUT_SECONDS = 180.0
POLL_SECONDS = 0.3


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def check_ports(settings: Settings) -> None:
    wanted = [
        ("API_PORT", settings.api_host, settings.api_port),
        *(("RASA_PORT", settings.rasa_host, port) for port in settings.rasa_ports),
        *(("ACTION_PORT", settings.action_host, port) for port in settings.action_ports),
    ]
    busy = [f"{name}={port}" for name, host, port in wanted if not port_free(host, port)]
    if busy:
        sys.exit(f"Port(s) already in use: {', '.join(busy)}. Stop the other process or set these variables.")


def _say(line: str) -> None:
    print(f"[stack] {line}", flush=True)  # noqa: T201 - `make run`'s own output: starts, crashes, restarts


def _demo_logins(settings: Settings, url: str) -> str:
    """Development only: the seeded agent, supervisor and ops logins (POST /api/auth/login)."""
    if settings.app_env != "development":
        return ""
    with get_sessionmaker()() as session:
        lines = demo_login_lines(session)
    if not lines:
        return ""
    body = "".join(f"      {line}\n" for line in lines)
    return f"  Staff logins (POST {url}/api/auth/login; username, role, name, password):\n{body}"


def run(settings: Settings) -> None:
    check_ports(settings)
    prepare_database(settings.database_url)
    repository_model = ensure_model()
    with get_sessionmaker().begin() as session:  # the model ops deployed last stays live across restarts
        model_path = Path(model_to_serve(session, fingerprint=training_fingerprint(), path=str(repository_model)).path)
    # All three start at once; Rasa loading its model is the long pole (TensorFlow start-up).
    supervisor = Supervisor(service_specs(settings, model_path), LOG_DIR, status_file=STATUS_FILE, on_event=_say)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)  # also when started in the background, where SIGINT is ignored
    try:
        supervisor.start_all()
        supervisor.wait_until_all_ready(READY_TIMEOUT_SECONDS, POLL_SECONDS)
        url = f"http://{settings.api_host}:{settings.api_port}"
        docs = f"  API docs:   {url}/docs\n" if settings.api_docs else ""
        print(  # noqa: T201 - the one thing a person running `make run` needs to see
            f"\n{supervisor.status_table()}\n\n  Demo page:  {url}/demo (the web widget on a company page)\n"
            f"  Chat page:  {url}/chat\n"
            f"  Console:    {url}/console/login (agents: {url}/console, supervisor: {url}/console/supervisor)\n"
            f"  Ops:        {url}/ops (training {url}/ops/training, analytics {url}/ops/analytics)\n"
            f"{docs}  Health:     {url}/health\n"
            f"  WeChat:     {url}/wechat (server URL; token {settings.wechat_token}, AES key in .env.example)\n"
            f"{_demo_logins(settings, url)}"
            f"  Logs:       var/log/   Status: python -m stack status\n"
            f"  A crashed service is restarted (reported here). Press Ctrl-C to stop.\n",
            flush=True,
        )
        while True:
            supervisor.poll()
            time.sleep(POLL_SECONDS)
    except (KeyboardInterrupt, _Stop):
        logger.info("Stopping...")
    finally:
        supervisor.stop_all()


def show_status() -> None:
    try:
        status = json.loads(STATUS_FILE.read_text())
    except (OSError, ValueError):
        sys.exit(f"No status in {STATUS_FILE}: is `make run` running?")
    age = time.time() - float(status["updated"])
    print(f"{format_status(status['services'])}\n  (last change {age:.0f} s ago)")  # noqa: T201


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run", "prepare", "status"], nargs="?", default="run")
    args = parser.parse_args()
    if args.command == "status":
        show_status()
        return
    settings = get_settings_or_exit()
    try:
        if args.command == "prepare":
            prepare_database(settings.database_url)
            ensure_model()
        else:
            run(settings)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"\n{Path(exc.cmd[0]).name} {exc.cmd[1]} failed (exit code {exc.returncode}); see its output above.")
    except TrainingFailedError as exc:
        sys.exit(f"\nTraining failed: {exc}\nRasa's full log: {LOG_DIR / 'train.log'}")
    except (TimeoutError, ServiceFailedError) as exc:
        sys.exit(f"\nServices did not start: {exc}; see var/log/.")


if __name__ == "__main__":
    main()
