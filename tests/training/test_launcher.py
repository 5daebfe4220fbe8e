"""The API's worker launcher: the worker reads the API's configuration back (lists as JSON), and polling a
stuck queue starts one worker at a time, not one per poll."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.settings import PROJECT_ROOT, Settings
from training import launcher
from training.settings import TrainingSettings


def test_the_worker_reads_the_apis_configuration_back(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'crm.db'}")
    assert settings.rest_integrations  # a list setting: it used to reach the worker as a Python repr
    env = launcher.worker_env(settings, TrainingSettings(work_dir=tmp_path / "work"))
    read_back = subprocess.run(
        [sys.executable, "-c", "from core.settings import get_settings_or_exit as g; print(g().database_url)"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert read_back.returncode == 0, read_back.stderr
    assert read_back.stdout.strip() == settings.database_url


class FakeWorker:
    started: ClassVar[list[FakeWorker]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.pid = 1000 + len(FakeWorker.started)
        self.returncode: int | None = None
        FakeWorker.started.append(self)

    def poll(self) -> int | None:
        return self.returncode


@pytest.fixture
def fake_workers(monkeypatch: pytest.MonkeyPatch) -> list[FakeWorker]:
    FakeWorker.started = []
    monkeypatch.setattr(launcher.subprocess, "Popen", FakeWorker)
    monkeypatch.setattr(launcher, "_children", [])
    monkeypatch.setattr(launcher, "_died_at_start", float("-inf"))
    return FakeWorker.started


def test_one_worker_at_a_time_and_none_per_poll_after_one_died_at_start(
    fake_workers: list[FakeWorker], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, training = Settings(), TrainingSettings(log_dir=tmp_path / "log")
    first = launcher.launch_worker(settings, training)
    assert launcher.launch_worker(settings, training) == first  # still starting: no second one
    assert len(fake_workers) == 1

    fake_workers[0].returncode = 1  # died at start (e.g. a configuration error)
    assert launcher.launch_worker(settings, training) == -1
    assert launcher.launch_worker(settings, training) == -1
    assert len(fake_workers) == 1

    monkeypatch.setattr(launcher, "RESTART_AFTER_SECONDS", 0.0)
    assert launcher.launch_worker(settings, training) != -1
    assert len(fake_workers) == 2
