"""A whole system on free ports with a fresh, seeded SQLite CRM: for end-to-end tests and benchmarks."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from crm.db import make_engine
from stack.database import prepare_database
from stack.processes import RunningProcess, port_free, service_specs, start, stop_all, wait_until_ready
from stack.supervisor import Backoff, Supervisor

READY_TIMEOUT_SECONDS = 300.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free ports (replicas take PORT, PORT+1, ...)."""
    for _ in range(100):
        first = free_port()
        if all(port_free("127.0.0.1", first + offset) for offset in range(1, count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports found")


@dataclass
class EphemeralStack:
    settings: Settings
    processes: list[RunningProcess]
    session_factory: sessionmaker[Session]
    supervisor: Supervisor | None = None
    events: list[str] = field(default_factory=list)
    _stop_polling: threading.Event = field(default_factory=threading.Event)
    _poller: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    @property
    def rasa_url(self) -> str:
        return self.settings.rasa_url

    def process(self, name: str) -> RunningProcess:
        if self.supervisor is not None:
            current = self.supervisor.service(name).process
            assert current is not None
            return current
        return next(p for p in self.processes if p.spec.name == name)

    def pid(self, name: str) -> int:
        return self.process(name).popen.pid

    def stop(self) -> None:
        if self.supervisor is not None:
            self._stop_polling.set()
            if self._poller is not None:
                self._poller.join(timeout=5)
            self.supervisor.stop_all()
        else:
            stop_all(self.processes)
        self.session_factory.kw["bind"].dispose()

    def _poll_forever(self, supervisor: Supervisor) -> None:
        while not self._stop_polling.wait(0.2):
            try:
                supervisor.poll()
            except Exception as error:  # a dead poller would leave every later crash unnoticed
                self.events.append(f"supervisor poll failed: {error!r}")


def ephemeral_settings(workdir: Path, **overrides: Any) -> Settings:
    replicas = int(overrides.get("replicas", 1))
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{workdir / 'crm.db'}",
        "tracker_database_url": f"sqlite:///{workdir / 'tracker.db'}",
        "api_port": free_port(),
        "rasa_port": free_port_block(replicas),
        "action_port": free_port_block(replicas),
        "redis_url": None,
        "app_env": "development",
        **overrides,
    }
    return Settings(**values)


def start_ephemeral_stack(
    workdir: Path, model: Path, *, supervised: bool = False, backoff: Backoff | None = None, **overrides: Any
) -> EphemeralStack:
    """Seeds `workdir/crm.db`, then starts the action server, Rasa and the API (logs in `workdir/logs`).

    `supervised`: a background thread runs a Supervisor that restarts a crashed service (its events are
    collected in `stack.events`); otherwise the caller starts and stops processes itself.
    """
    settings = ephemeral_settings(workdir, **overrides)
    prepare_database(settings.database_url)
    specs = service_specs(settings, model)
    engine = make_engine(settings.database_url)
    factory = sessionmaker(engine, expire_on_commit=False)
    if supervised:
        events: list[str] = []
        supervisor = Supervisor(specs, workdir / "logs", backoff=backoff or Backoff(), on_event=events.append)
        supervisor.start_all()
        try:
            supervisor.wait_until_all_ready(READY_TIMEOUT_SECONDS)
        except BaseException:
            supervisor.stop_all()
            raise
        stack = EphemeralStack(settings, [], factory, supervisor=supervisor, events=events)
        stack._poller = threading.Thread(target=stack._poll_forever, args=(supervisor,), daemon=True)
        stack._poller.start()
        return stack
    processes = [start(spec, log_dir=workdir / "logs") for spec in specs]
    try:
        for process in processes:
            wait_until_ready(process, READY_TIMEOUT_SECONDS)
    except BaseException:
        stop_all(processes)
        raise
    return EphemeralStack(settings, processes, factory)
