"""Latency summaries. Pure Python (no numpy): used in the app env and by the tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

WECHAT_REPLY_WINDOW_SECONDS = 5.0


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default method); q in [0, 100]."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies: Sequence[float], wall_seconds: float) -> dict[str, Any]:
    """p50/p95/p99/max in seconds, throughput in messages per second over the wall-clock time of the run."""
    if wall_seconds <= 0:
        raise ValueError("wall_seconds must be positive")
    return {
        "messages": len(latencies),
        "wall_seconds": wall_seconds,
        "messages_per_second": len(latencies) / wall_seconds,
        "mean": sum(latencies) / len(latencies),
        "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "over_wechat_window": sum(1 for v in latencies if v > WECHAT_REPLY_WINDOW_SECONDS),
    }


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None
