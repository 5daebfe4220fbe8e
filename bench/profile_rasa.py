"""Profile Rasa's message handling in-process under the benchmark's concurrent load (rasa env, cProfile).

Usage (repo root, PYTHONPATH=.):
  python -m bench.profile_rasa MODEL.tar.gz [--tracker memory|sql] [--customers 20] [--turns 12]

Runs the bench's customer scripts through `Agent.handle_text` (no HTTP, no action server: custom
actions fail as in bare Rasa) with an in-memory or a SQLite tracker store, prints p50/p95, messages
per second and the functions with the most own time. Used to find where the full stack's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import pstats
import sys
import tempfile
import time
from pathlib import Path

from bench.scripts import Customer, build_customers, load_scenarios
from bench.stats import latency_summary

# Stand-ins for the seeded order data: NLU and dialogue cost don't depend on which order is looked up.
PLACEHOLDER_ORDERS = [("DD202601010001", "13800000001"), ("DD202601010002", "13900000002")]


async def _chat(agent: object, customer: Customer, latencies: list[float]) -> None:
    for turn in customer.turns:
        started = time.perf_counter()
        await agent.handle_text(turn.text, sender_id=customer.user_id)  # type: ignore[attr-defined]
        latencies.append(time.perf_counter() - started)


async def _run(
    model: Path, tracker: str, customers: list[Customer], db: Path, profiler: cProfile.Profile
) -> tuple[list[float], float]:
    """Loads the model, warms up, then profiles only the concurrent phase."""
    from rasa.core.agent import Agent
    from rasa.core.tracker_store import InMemoryTrackerStore, SQLTrackerStore

    store = SQLTrackerStore(dialect="sqlite", db=str(db)) if tracker == "sql" else InMemoryTrackerStore(None)
    agent = Agent.load(str(model), tracker_store=store)
    for turn in customers[0].turns[:4]:  # warm-up, not measured
        await agent.handle_text(turn.text, sender_id="warmup")
    latencies: list[float] = []
    started = time.perf_counter()
    profiler.enable()
    await asyncio.gather(*(_chat(agent, c, latencies) for c in customers))
    profiler.disable()
    return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--tracker", choices=["memory", "sql"], default="memory")
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    logging.disable(logging.ERROR)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)  # as `rasa run` does; unconfigured structlog prints every debug event
    customers = build_customers(
        load_scenarios(), PLACEHOLDER_ORDERS, customers=args.customers, turns=args.turns, seed=7, run_id="profile"
    )
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        latencies, wall = asyncio.run(_run(args.model, args.tracker, customers, Path(tmp) / "tracker.db", profiler))
    summary = latency_summary(latencies, wall)
    out = io.StringIO()
    out.write(
        f"tracker={args.tracker} messages={summary['messages']} msg/s={summary['messages_per_second']:.1f} "
        f"p50={summary['p50']:.3f}s p95={summary['p95']:.3f}s\n"
    )
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    main()
