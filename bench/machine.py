"""Date and machine facts for the report, read from /proc."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def _cpu_model(cpuinfo: str) -> str:
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _meminfo_kib(meminfo: str, key: str) -> int | None:
    for line in meminfo.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    meminfo = Path("/proc/meminfo").read_text()
    total = _meminfo_kib(meminfo, "MemTotal")
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(cpuinfo),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(total / 1024 / 1024, 1) if total else None,
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
