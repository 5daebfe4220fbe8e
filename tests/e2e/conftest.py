"""Starts the real system once per test session: action server, Rasa (model trained from data/), API hub."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
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
class LiveStack:
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


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory, rasa_model: Path) -> Iterator[LiveStack]:
    workdir = tmp_path_factory.mktemp("stack")
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
    processes: list[RunningProcess] = []
    try:
        for spec in service_specs(settings, rasa_model):
            process = start(spec, log_dir=workdir / "logs")
            processes.append(process)
            wait_until_ready(process, READY_TIMEOUT_SECONDS)
        engine = make_engine(settings.database_url)
        yield LiveStack(settings, processes, sessionmaker(engine, expire_on_commit=False))
        engine.dispose()
    finally:
        stop_all(processes)


@pytest.fixture
def api(live_stack: LiveStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_stack.api_url, timeout=30.0) as client:
        yield client
