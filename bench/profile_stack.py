"""Profile the real server processes under the benchmark's load with py-spy (sampling, no code changes).

Usage (repo root, app env, PYTHONPATH=.):
  python -m bench.profile_stack [--model MODEL.tar.gz] [--customers 20] [--turns 12] [--think 0] [--top 25]

Starts a throwaway full stack (stack.ephemeral: fresh SQLite CRM, free ports), sends the bench's customer
scripts through the API hub, and meanwhile samples the API, Rasa and action-server processes with
`py-spy record --format raw`. Prints, per process, the functions in the most samples (inclusive: the
function or anything it called was running) and the most own samples, as a share of the process's
samples. The raw collapsed stacks stay in --out for flame graphs.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.live import customer_scripts
from bench.load import ApiTarget, run_load
from stack.ephemeral import start_ephemeral_stack
from stack.model import ensure_model
from stack.paths import APP_BIN

SERVERS = ("api", "rasa", "actions")


def py_spy() -> str:
    found = shutil.which("py-spy", path=f"{APP_BIN}:{Path(sys.executable).parent}") or shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy not found: it is in requirements/app.in; run `make setup`")
    return found


def sample(pid: int, output: Path, gil_only: bool) -> subprocess.Popen[bytes]:
    """py-spy on a running process until SIGINT; --nonblocking: never pauses the server being measured.

    `gil_only` keeps only samples of threads holding the GIL: Python CPU time, without threads waiting
    for a lock, the database or the network.
    """
    argv = [py_spy(), "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "--nonblocking"]
    argv += ["--gil"] if gil_only else []
    return subprocess.Popen([*argv, "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def collapsed_stacks(path: Path) -> Counter[tuple[str, ...]]:
    """py-spy's raw format: `frame;frame;frame count` per line (outermost first)."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def top_functions(
    stacks: Counter[tuple[str, ...]], top: int
) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """(total samples, [(function, inclusive samples)], [(function, own samples)]), most first."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks.items():
        for frame in set(frames):  # a recursive function counts once per sample
            inclusive[frame] += count
        own[frames[-1]] += count
    total = sum(stacks.values())
    return total, inclusive.most_common(top), own.most_common(top)


def report(name: str, path: Path, top: int) -> str:
    total, inclusive, own = top_functions(collapsed_stacks(path), top)
    if total == 0:
        return f"## {name}: no samples\n"
    lines = [f"## {name}: {total} samples", "", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive]
    lines += ["", "own:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="default: stack.model.ensure_model()")
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--think", type=float, default=0.0, help="mean think time (s); 0 = saturation")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL (CPU, not waits)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "profile_stack")
    args = parser.parse_args()
    model = args.model.resolve() if args.model else ensure_model()
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="profile-stack-"))
    stack = start_ephemeral_stack(workdir, model)
    try:
        scripts, warmup = customer_scripts(
            stack, customers=args.customers, turns=args.turns, seed=7, warmup_turns=4, loads={"profile": args.think}
        )
        customers = scripts["profile"]
        asyncio.run(run_load(ApiTarget(stack.api_url), warmup, []))  # first-message costs out of the profile
        samplers = {name: sample(stack.pid(name), args.out / f"{name}.txt", args.gil) for name in SERVERS}
        result = asyncio.run(run_load(ApiTarget(stack.api_url), customers, []))
        for sampler in samplers.values():
            sampler.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for sampler in samplers.values():
            sampler.wait(timeout=30)
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    summary = result.summary()
    sys.stdout.write(
        f"{summary['messages']} messages, {summary['messages_per_second']:.1f} msg/s, "
        f"p50 {summary['p50']:.3f} s, p99 {summary['p99']:.3f} s; raw stacks in {args.out}\n\n"
    )
    for name in SERVERS:
        sys.stdout.write(report(name, args.out / f"{name}.txt", args.top) + "\n")


if __name__ == "__main__":
    main()
