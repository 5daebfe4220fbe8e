"""Peak resident memory of a process tree from /proc/<pid>/status (VmHWM), no psutil."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROC = Path("/proc")


def status_kib(status_text: str, key: str) -> int | None:
    for line in status_text.splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


def children(pid: int, proc: Path = PROC) -> list[int]:
    result: list[int] = []
    for task in (proc / str(pid) / "task").glob("*"):
        try:
            result += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return result


def process_tree(pid: int, proc: Path = PROC) -> list[int]:
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending += children(current, proc)
    return tree


def peak_memory_mib(pid: int, proc: Path = PROC) -> dict[str, float | int]:
    """VmHWM (peak RSS) and VmRSS of the process and its descendants, summed, in MiB."""
    hwm = rss = 0
    count = 0
    for member in process_tree(pid, proc):
        try:
            text = (proc / str(member) / "status").read_text()
        except OSError:
            continue
        count += 1
        hwm += status_kib(text, "VmHWM") or 0
        rss += status_kib(text, "VmRSS") or 0
    return {"peak_mib": round(hwm / 1024, 1), "rss_mib": round(rss / 1024, 1), "processes": count}


def cpu_seconds(pid: int, proc: Path = PROC) -> float:
    """User + system CPU time of the process and its descendants so far (/proc/<pid>/stat), in seconds."""
    ticks = 0
    for member in process_tree(pid, proc):
        try:
            fields = (proc / str(member) / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def cpu_during(pids: dict[str, int]) -> Iterator[dict[str, float]]:
    """CPU seconds each process (tree) used inside the block, plus the machine's wall time, filled on exit."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started, client_started = time.perf_counter(), time.process_time()
    used: dict[str, float] = {}
    yield used
    used.update({name: round(cpu_seconds(pid) - before[name], 2) for name, pid in pids.items()})
    used["load_client"] = round(time.process_time() - client_started, 2)  # this process: the httpx customers
    used["wall"] = round(time.perf_counter() - started, 2)
