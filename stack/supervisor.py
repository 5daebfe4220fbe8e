"""Keeps the services running: a crashed one is restarted with back-off while the others go on.

The launcher (`make run`) and the supervised test stacks drive one `Supervisor`. It polls its children
(no threads of its own): `poll()` notices an exit, schedules the restart after a back-off that doubles
with each crash in a row (0 s for the first, so a crash costs only a normal start) and resets once a
service has stayed up for `stable_seconds`; a starting service becomes ready when its health URL answers.
Every state change is reported through `on_event` (printed by `make run`) and written to a JSON status
file that `python -m stack status` shows.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import httpx

from stack.processes import ProcessSpec, RunningProcess, start, stop

logger = logging.getLogger(__name__)


class ServiceFailedError(RuntimeError):
    """A service exited before it was ever ready (with `fail_fast`)."""


class State(str, Enum):
    STARTING = "starting"
    READY = "ready"
    BACKOFF = "backoff"  # crashed, waiting to be restarted
    STOPPED = "stopped"


@dataclass(frozen=True)
class Backoff:
    """Delay before restart number n of a crash streak: 0, first, 2*first, ... capped at `maximum`."""

    first_seconds: float = 1.0
    maximum_seconds: float = 30.0
    stable_seconds: float = 60.0  # up this long: the next crash starts a new streak

    def delay(self, crashes_in_a_row: int) -> float:
        if crashes_in_a_row <= 1:
            return 0.0
        return min(self.first_seconds * 2 ** (crashes_in_a_row - 2), self.maximum_seconds)


@dataclass
class Service:
    spec: ProcessSpec
    state: State = State.STOPPED
    process: RunningProcess | None = None
    restarts: int = 0
    crashes_in_a_row: int = 0
    started_at: float = 0.0
    ready_at: float | None = None
    ever_ready: bool = False
    restart_at: float = 0.0
    last_exit_code: int | None = None
    history: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.popen.pid if self.process else None


def probe_ready(url: str) -> bool:
    try:
        # The API's /health is 503 until its dependencies answer; being up is what counts here.
        return httpx.get(url, timeout=1.0, trust_env=False).status_code in (200, 503)
    except httpx.HTTPError:
        return False


class Supervisor:
    def __init__(
        self,
        specs: list[ProcessSpec],
        log_dir: Path,
        *,
        backoff: Backoff = Backoff(),
        status_file: Path | None = None,
        on_event: Callable[[str], None] = logger.info,
        clock: Callable[[], float] = time.monotonic,
        ready_check: Callable[[str], bool] = probe_ready,
        fail_fast: bool = True,
    ) -> None:
        self.services = {spec.name: Service(spec) for spec in specs}
        self._log_dir = log_dir
        self._backoff = backoff
        self._status_file = status_file
        self._on_event = on_event
        self._clock = clock
        self._ready_check = ready_check
        self._fail_fast = fail_fast

    def service(self, name: str) -> Service:
        return self.services[name]

    def start_all(self) -> None:
        for service in self.services.values():
            self._start(service)

    def _start(self, service: Service) -> None:
        service.process = start(service.spec, log_dir=self._log_dir)
        service.state = State.STARTING
        service.started_at = self._clock()
        service.ready_at = None
        self._changed(service, f"starting (pid {service.pid})")

    def poll(self) -> None:
        """One round: notice exits, restart when the back-off is over, mark started services ready."""
        now = self._clock()
        for service in self.services.values():
            if service.state in (State.STARTING, State.READY):
                assert service.process is not None
                code = service.process.popen.poll()
                if code is not None:
                    self._crashed(service, code, now)
                elif service.state is State.STARTING and self._ready_check(service.spec.health_url):
                    service.state = State.READY
                    service.ever_ready = True
                    service.ready_at = self._clock()
                    took = service.ready_at - service.started_at
                    again = f" again after restart #{service.restarts}" if service.restarts else ""
                    self._changed(service, f"ready{again} (pid {service.pid}, {took:.1f} s)")
                elif (
                    service.state is State.READY
                    and service.crashes_in_a_row
                    and service.ready_at is not None
                    and now - service.ready_at >= self._backoff.stable_seconds
                ):
                    service.crashes_in_a_row = 0
            elif service.state is State.BACKOFF and now >= service.restart_at:
                service.restarts += 1
                self._start(service)

    def _crashed(self, service: Service, code: int, now: float) -> None:
        assert service.process is not None
        _kill_leftovers(service.process)
        if self._fail_fast and not service.ever_ready:
            # Never came up: a configuration or code error that restarting will not fix.
            raise ServiceFailedError(
                f"{service.spec.name} exited with code {code} before it was ready:\n{service.process.log_tail()}"
            )
        service.last_exit_code = code
        service.crashes_in_a_row += 1
        delay = self._backoff.delay(service.crashes_in_a_row)
        service.restart_at = now + delay
        service.state = State.BACKOFF
        how = f"signal {-code}" if code < 0 else f"exit code {code}"
        self._changed(
            service,
            f"CRASHED ({how}); restarting in {delay:.1f} s (crash {service.crashes_in_a_row} in a row)\n"
            f"{service.process.log_tail(10)}",
        )

    def all_ready(self) -> bool:
        return all(s.state is State.READY for s in self.services.values())

    def wait_until_all_ready(self, timeout_seconds: float, poll_seconds: float = 0.3) -> None:
        deadline = self._clock() + timeout_seconds
        while not self.all_ready():
            if self._clock() > deadline:
                waiting = [
                    f"{s.spec.name}={s.state.value}" for s in self.services.values() if s.state is not State.READY
                ]
                raise TimeoutError(f"not ready after {timeout_seconds:.0f} s: {', '.join(waiting)}")
            self.poll()
            time.sleep(poll_seconds)

    def stop_all(self) -> None:
        for service in reversed(list(self.services.values())):
            if service.process is not None:
                stop(service.process)
            service.state = State.STOPPED
            self._write_status()

    def status(self) -> list[dict[str, object]]:
        return [
            {
                "name": s.spec.name,
                "state": s.state.value,
                "pid": s.pid if s.state is not State.BACKOFF else None,
                "restarts": s.restarts,
                "last_exit_code": s.last_exit_code,
                "health_url": s.spec.health_url,
            }
            for s in self.services.values()
        ]

    def status_table(self) -> str:
        return format_status(self.status())

    def _changed(self, service: Service, what: str) -> None:
        service.history.append(what.split("\n", 1)[0])
        self._on_event(f"{service.spec.name}: {what}")
        self._write_status()

    def _write_status(self) -> None:
        if self._status_file is None:
            return
        self._status_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._status_file.with_suffix(".tmp")
        temporary.write_text(json.dumps({"updated": time.time(), "services": self.status()}, indent=1))
        temporary.replace(self._status_file)


def format_status(services: list[dict[str, object]]) -> str:
    lines = [f"  {'service':<9} {'state':<9} {'pid':>7} {'restarts':>8}  last exit"]
    for s in services:
        exit_code = "" if s["last_exit_code"] is None else str(s["last_exit_code"])
        pid = "" if s["pid"] is None else str(s["pid"])
        lines.append(f"  {s['name']!s:<9} {s['state']!s:<9} {pid:>7} {s['restarts']!s:>8}  {exit_code}")
    return "\n".join(lines)


def _kill_leftovers(process: RunningProcess) -> None:
    """A service killed with -9 may leave children in its process group (its own session): end them."""
    try:
        os.killpg(process.popen.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
