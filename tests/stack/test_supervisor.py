"""The supervisor with real child processes (small HTTP servers) and, for back-off timing, a fake clock."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from stack.ephemeral import free_port
from stack.processes import ProcessSpec
from stack.supervisor import Backoff, ServiceFailedError, State, Supervisor, format_status


def http_server(name: str) -> ProcessSpec:
    port = free_port()
    return ProcessSpec(
        name=name,
        argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        health_url=f"http://127.0.0.1:{port}/",
        env=dict(os.environ),
    )


def wait_for(condition: object, supervisor: Supervisor, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        supervisor.poll()
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout} s: {supervisor.status()}")


def test_backoff_restarts_the_first_crash_at_once_then_doubles_up_to_the_cap() -> None:
    backoff = Backoff(first_seconds=1.0, maximum_seconds=5.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [0.0, 1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_killed_service_comes_back_and_the_others_keep_running(tmp_path: Path) -> None:
    events: list[str] = []
    supervisor = Supervisor(
        [http_server("one"), http_server("two")], tmp_path, status_file=tmp_path / "status.json", on_event=events.append
    )
    supervisor.start_all()
    try:
        supervisor.wait_until_all_ready(30)
        killed_pid = supervisor.service("one").pid
        other_pid = supervisor.service("two").pid
        assert killed_pid and other_pid
        os.kill(killed_pid, signal.SIGKILL)

        wait_for(lambda: supervisor.service("one").restarts == 1 and supervisor.all_ready(), supervisor)

        assert supervisor.service("one").pid != killed_pid
        assert supervisor.service("two").pid == other_pid
        assert supervisor.service("two").restarts == 0
        assert any(e.startswith("one: CRASHED (signal 9)") and "restarting in 0.0 s" in e for e in events), events
        assert any(e.startswith("one: ready again after restart #1") for e in events), events
        status = json.loads((tmp_path / "status.json").read_text())
        assert [(s["name"], s["state"], s["restarts"]) for s in status["services"]] == [
            ("one", "ready", 1),
            ("two", "ready", 0),
        ]
        assert "ready" in format_status(status["services"])
    finally:
        supervisor.stop_all()
    assert all(s.state is State.STOPPED for s in supervisor.services.values())


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def crashing(name: str) -> ProcessSpec:
    return ProcessSpec(name=name, argv=[sys.executable, "-c", "raise SystemExit(3)"], health_url="http://unused/")


def wait_exit(supervisor: Supervisor, name: str) -> None:
    process = supervisor.service(name).process
    assert process is not None
    process.popen.wait(timeout=30)


def test_a_crash_loop_backs_off_and_a_stable_run_resets_the_streak(tmp_path: Path) -> None:
    clock = FakeClock()
    ready = {"value": True}
    supervisor = Supervisor(
        [crashing("loop")],
        tmp_path,
        backoff=Backoff(first_seconds=2.0, maximum_seconds=8.0, stable_seconds=60.0),
        clock=clock,
        ready_check=lambda url: ready["value"],
        on_event=lambda line: None,
    )
    service = supervisor.service("loop")
    service.ever_ready = True  # it ran fine once: crashes now are restarts, not a start-up failure
    supervisor.start_all()
    delays = []
    for _ in range(4):
        ready["value"] = False
        wait_exit(supervisor, "loop")
        supervisor.poll()
        assert service.state is State.BACKOFF
        delays.append(service.restart_at - clock.now)
        clock.now = service.restart_at
        supervisor.poll()
        assert service.state is State.STARTING
    assert delays == [0.0, 2.0, 4.0, 8.0]
    assert service.restarts == 4
    assert service.last_exit_code == 3

    supervisor.stop_all()


def test_staying_up_for_the_stable_time_ends_the_crash_streak(tmp_path: Path) -> None:
    clock = FakeClock()
    sleeper = ProcessSpec(name="up", argv=[sys.executable, "-c", "import time; time.sleep(60)"], health_url="x")
    supervisor = Supervisor(
        [sleeper],
        tmp_path,
        backoff=Backoff(stable_seconds=60.0),
        clock=clock,
        ready_check=lambda url: True,
        on_event=lambda line: None,
    )
    supervisor.start_all()
    service = supervisor.service("up")
    service.crashes_in_a_row = 3
    try:
        supervisor.poll()
        assert service.state is State.READY
        clock.now += 59
        supervisor.poll()
        assert service.crashes_in_a_row == 3
        clock.now += 2
        supervisor.poll()
        assert service.crashes_in_a_row == 0
    finally:
        supervisor.stop_all()


def test_a_service_that_never_starts_fails_the_launch_with_its_log(tmp_path: Path) -> None:
    supervisor = Supervisor([crashing("broken")], tmp_path, ready_check=lambda url: False, on_event=lambda line: None)
    supervisor.start_all()
    wait_exit(supervisor, "broken")
    with pytest.raises(ServiceFailedError, match="broken exited with code 3 before it was ready"):
        supervisor.poll()
    supervisor.stop_all()
