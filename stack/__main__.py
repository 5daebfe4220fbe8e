"""`python -m stack`: prepare the database and model, start every service, stop them all on Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from core.settings import Settings, get_settings
from stack.database import prepare_database
from stack.model import ensure_model
from stack.processes import RunningProcess, service_specs, start, stop_all, wait_until_ready

logger = logging.getLogger("stack")
READY_TIMEOUT_SECONDS = 180.0


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def check_ports(settings: Settings) -> None:
    busy = [
        f"{name}={port}"
        for name, port in (
            ("API_PORT", settings.api_port),
            ("RASA_PORT", settings.rasa_port),
            ("ACTION_PORT", settings.action_port),
        )
        if not _port_free(port)
    ]
    if busy:
        sys.exit(f"Port(s) already in use: {', '.join(busy)}. Stop the other process or set these variables.")


def run(settings: Settings) -> None:
    check_ports(settings)
    prepare_database(settings.database_url)
    model_path = ensure_model()
    processes: list[RunningProcess] = []
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        # All three start at once; Rasa loading its model is the long pole (TensorFlow start-up).
        processes.extend(start(spec) for spec in service_specs(settings, model_path))
        for process in processes:
            wait_until_ready(process, READY_TIMEOUT_SECONDS)
        url = f"http://{settings.api_host}:{settings.api_port}"
        print(  # noqa: T201 - the one thing a person running `make run` needs to see
            f"\n  Chat page:  {url}/chat\n  API docs:   {url}/docs\n  Health:     {url}/health\n"
            f"  Logs:       var/log/\n  Press Ctrl-C to stop.\n",
            flush=True,
        )
        while all(p.popen.poll() is None for p in processes):
            time.sleep(0.5)
        dead = next(p for p in processes if p.popen.poll() is not None)
        logger.error("%s exited with code %s:\n%s", dead.spec.name, dead.popen.returncode, dead.log_tail())
        sys.exit(1)
    except (KeyboardInterrupt, _Stop):
        logger.info("Stopping...")
    finally:
        stop_all(processes)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run", "prepare"], nargs="?", default="run")
    args = parser.parse_args()
    settings = get_settings()
    try:
        if args.command == "prepare":
            prepare_database(settings.database_url)
            ensure_model()
        else:
            run(settings)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"\n{Path(exc.cmd[0]).name} {exc.cmd[1]} failed (exit code {exc.returncode}); see its output above.")


if __name__ == "__main__":
    main()
