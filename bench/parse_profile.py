"""Time and profile NLU parsing of one model in-process (rasa env, cProfile): where do the ms/msg go?

Usage (repo root, PYTHONPATH=.):
  python -m bench.parse_profile MODEL.tar.gz [--file tests/nlu/test_nlu.jsonl] [--limit 200] [--profile]

Loads the model with rasa's Agent, parses every text once to warm up, then again measured: prints the
mean wall and CPU milliseconds per message (CPU time is what the message costs; wall time also counts
other processes on the shared machine) and, with --profile, the functions with the most cumulative time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import pstats
import sys
import time
from pathlib import Path
from typing import Any


def load_texts(path: Path, limit: int) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [str(row["text"]) for row in rows][:limit]


async def time_parsing(agent: Any, texts: list[str], profiler: cProfile.Profile | None) -> tuple[float, float]:
    """Mean (wall, cpu) seconds per message of `agent.parse_message` over texts, after one warm-up pass."""
    for text in texts:
        await agent.parse_message(text)
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    for text in texts:
        await agent.parse_message(text)
    if profiler is not None:
        profiler.disable()
    return (time.perf_counter() - wall) / len(texts), (time.process_time() - cpu) / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--file", type=Path, default=Path("tests/nlu/test_nlu.jsonl"))
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    logging.disable(logging.ERROR)
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)  # as `rasa run` does; unconfigured structlog prints every debug event

    started = time.perf_counter()
    agent = Agent.load(str(args.model))
    load_seconds = time.perf_counter() - started
    texts = load_texts(args.file, args.limit)
    profiler = cProfile.Profile() if args.profile else None
    wall, cpu = asyncio.run(time_parsing(agent, texts, profiler))
    sys.stdout.write(
        f"model load {load_seconds:.1f}s; {len(texts)} messages: "
        f"{wall * 1000:.1f} ms/msg wall, {cpu * 1000:.1f} ms/msg CPU\n"
    )
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    main()
