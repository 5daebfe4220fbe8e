"""A whole system on free ports with a fresh, seeded SQLite CRM: for end-to-end tests and benchmarks."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings
from crm.db import make_engine
from stack.database import prepare_database
from stack.processes import RunningProcess, service_specs, start, stop_all, wait_until_ready

READY_TIMEOUT_SECONDS = 300.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class EphemeralStack:
    settings: Settings
    processes: list[RunningProcess]
    session_factory: sessionmaker[Session]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    @property
    def rasa_url(self) -> str:
        return self.settings.rasa_url

    def process(self, name: str) -> RunningProcess:
        return next(p for p in self.processes if p.spec.name == name)

    def pid(self, name: str) -> int:
        return self.process(name).popen.pid

    def stop(self) -> None:
        stop_all(self.processes)
        self.session_factory.kw["bind"].dispose()


def start_ephemeral_stack(workdir: Path, model: Path) -> EphemeralStack:
    """Seeds `workdir/crm.db`, then starts the action server, Rasa and the API (logs in `workdir/logs`)."""
    rasa_port = free_port()
    settings = Settings(
        database_url=f"sqlite:///{workdir / 'crm.db'}",
        tracker_database_url=f"sqlite:///{workdir / 'tracker.db'}",
        api_port=free_port(),
        rasa_port=rasa_port,
        rasa_url=f"http://127.0.0.1:{rasa_port}",
        action_port=free_port(),
        redis_url=None,
    )
    prepare_database(settings.database_url)
    processes = [start(spec, log_dir=workdir / "logs") for spec in service_specs(settings, model)]
    try:
        for process in processes:
            wait_until_ready(process, READY_TIMEOUT_SECONDS)
    except BaseException:
        stop_all(processes)
        raise
    engine = make_engine(settings.database_url)
    return EphemeralStack(settings, processes, sessionmaker(engine, expire_on_commit=False))
