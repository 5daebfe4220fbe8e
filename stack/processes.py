"""Starts and stops the three services as child processes with logs in var/log/ (stack/supervisor.py watches them)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from core.settings import PROJECT_ROOT, Settings, settings_environment
from stack.model import rasa_env
from stack.paths import APP_BIN, LOG_DIR, RASA_BIN

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    health_url: str
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class RunningProcess:
    spec: ProcessSpec
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as environment variables, so every child process sees the same configuration."""
    env = settings_environment(settings)
    env["RASA_TRACKER_URL"] = settings.rasa_tracker_url
    return env


def _replica_name(service: str, index: int, replicas: int) -> str:
    return service if replicas == 1 else f"{service}-{index + 1}"


def service_specs(settings: Settings, model_path: Path) -> list[ProcessSpec]:
    """Action servers, Rasa servers and the API, in start order; internal ones bound to their *_HOST.

    With REPLICAS=N: N action servers and N Rasa servers, Rasa i calling action server i (Rasa's
    endpoints.yml takes one action-server URL), and one uvicorn running N API workers on API_PORT
    (uvicorn's own supervisor replaces a worker that dies; the kernel spreads connections over them).
    """
    shared_env = settings_env(settings)
    app_env = {**os.environ, **shared_env, "PYTHONPATH": str(PROJECT_ROOT)}
    python = str(APP_BIN / "python") if (APP_BIN / "python").exists() else sys.executable
    count = settings.replicas
    actions = [
        ProcessSpec(
            name=_replica_name("actions", i, count),
            argv=[python, "-m", "actions.server"],
            health_url=f"http://{settings.action_host}:{port}/health",
            env={**app_env, "ACTION_PORT": str(port)},
        )
        for i, port in enumerate(settings.action_ports)
    ]
    rasa = [
        ProcessSpec(
            name=_replica_name("rasa", i, count),
            argv=[
                str(RASA_BIN / "python"),
                "-m",
                "bot.serve",  # `rasa run` with --jwt-secret from RASA_JWT_SECRET (not visible in ps)
                "run",
                "--enable-api",
                "--interface",
                settings.rasa_host,
                "--port",
                str(port),
                "--model",
                str(model_path),
                "--endpoints",
                "endpoints.yml",
                "--credentials",
                "credentials.yml",
            ],
            health_url=f"http://{settings.rasa_host}:{port}/",
            # endpoints.yml reads ACTION_ENDPOINT_URL: this Rasa server's own action server.
            env={**rasa_env(), **shared_env, "ACTION_ENDPOINT_URL": action_url},
        )
        for i, (port, action_url) in enumerate(zip(settings.rasa_ports, settings.action_endpoint_urls, strict=True))
    ]
    workers = ["--workers", str(count)] if count > 1 else []
    api = ProcessSpec(
        name="api",
        argv=[
            python,
            "-m",
            "uvicorn",
            "--factory",
            "api.main:create_app",
            "--host",
            settings.api_host,
            "--port",
            str(settings.api_port),
            *workers,
        ],
        health_url=f"http://{settings.api_host}:{settings.api_port}/health",
        env=app_env,
    )
    return [*actions, *rasa, api]


def port_free(host: str, port: int) -> bool:
    """Nobody listens on host:port (a port in TIME_WAIT counts as free, as it will for the service)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return True
        except OSError:
            return False


def start(spec: ProcessSpec, log_dir: Path = LOG_DIR) -> RunningProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{spec.name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            spec.argv,
            cwd=PROJECT_ROOT,
            env=spec.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # own process group: Ctrl-C reaches us once, we stop children in order
        )
    logger.info("Started %s (pid %s), log: %s", spec.name, popen.pid, log_path)
    return RunningProcess(spec, popen, log_path)


def wait_until_ready(process: RunningProcess, timeout_seconds: float) -> None:
    """Polls the health URL until it answers 200; raises with the log tail if the process dies or times out."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(
                f"{process.spec.name} exited with code {process.popen.returncode}:\n{process.log_tail()}"
            )
        try:
            # The API's /health is 503 until its dependencies answer; being up is what counts here.
            if httpx.get(process.spec.health_url, timeout=2.0).status_code in (200, 503):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{process.spec.name} not ready after {timeout_seconds:.0f} s:\n{process.log_tail()}")


def stop(process: RunningProcess, grace_seconds: float = 10.0) -> None:
    if process.popen.poll() is not None:
        return
    try:
        os.killpg(process.popen.pid, signal.SIGTERM)
        process.popen.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        logger.warning("%s did not stop in %.0f s; killing it", process.spec.name, grace_seconds)
        os.killpg(process.popen.pid, signal.SIGKILL)
        process.popen.wait()
    except ProcessLookupError:
        pass
    logger.info("Stopped %s", process.spec.name)


def stop_all(processes: list[RunningProcess]) -> None:
    for process in reversed(processes):
        stop(process)
