"""`make bench`: NLU vs baselines, serving latency vs bare Rasa, training and edit-to-live times, memory.

Usage (repo root, app env, PYTHONPATH=.):
  python -m bench.run [--eval tests/nlu/test_nlu.jsonl] [--customers 20] [--turns 12] [--think 0]
                      [--skip nlu,serving,training]

Writes bench/results/latest.json, latest.md, latency.png and intent_f1.png and prints the Markdown.
Every process it starts listens on 127.0.0.1 only and is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import edits
from bench.live import (
    READY_TIMEOUT_SECONDS,
    FullStack,
    demo_web_user_ids,
    orders_with_owner_mobiles,
    start_bare_rasa,
    start_full_stack,
)
from bench.load import ApiTarget, LoadResult, RasaTarget, run_load
from bench.machine import machine_info
from bench.memory import cpu_seconds, peak_memory_mib
from bench.report import check_targets, markdown
from bench.scripts import Customer, build_customers, load_scenarios
from bench.stats import ratio
from core.settings import PROJECT_ROOT
from stack.model import ensure_model, model_path_for, rasa_env, training_fingerprint
from stack.paths import RASA_BIN
from stack.processes import stop_all, wait_until_ready

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
RASA_PYTHON = RASA_BIN / "python"
logger = logging.getLogger("bench")


@contextmanager
def phase(results: dict[str, Any], name: str) -> Iterator[None]:
    """Records how long a part of the run took (results["phases"]), to see where the 15 minutes go."""
    started = time.perf_counter()
    try:
        yield
    finally:
        results.setdefault("phases", {})[name] = round(time.perf_counter() - started, 1)


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


def run_nlu(model: Path, eval_path: Path, workdir: Path, retrain_default: bool) -> dict[str, Any]:
    """bench/nlu_eval.py in the rasa env; its (chatty) output goes to a log file, shown if it fails."""
    out, log_path = workdir / "nlu.json", workdir / "nlu_eval.log"
    argv = [str(RASA_PYTHON), "-m", "bench.nlu_eval", "--ours", str(model), "--eval", str(eval_path)]
    argv += ["--out", str(out), *(["--retrain-default"] if retrain_default else [])]
    with log_path.open("wb") as log:
        code = subprocess.run(argv, cwd=PROJECT_ROOT, env=rasa_env(), stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"bench.nlu_eval failed with code {code}:\n{tail}")
    return json.loads(out.read_text(encoding="utf-8"))


def _customers(stack: FullStack, args: argparse.Namespace, run_id: str) -> tuple[list[Customer], list[Customer]]:
    scenarios = load_scenarios()
    orders = orders_with_owner_mobiles(stack.session_factory)
    customers = build_customers(
        scenarios,
        orders,
        customers=args.customers,
        turns=args.turns,
        seed=args.seed,
        run_id=run_id,
        web_user_ids=demo_web_user_ids(stack.session_factory),
    )
    warmup = build_customers(
        scenarios, orders, customers=1, turns=args.warmup, seed=args.seed + 1, run_id=f"{run_id}-warmup"
    )
    return customers, warmup


def _anonymous(customers: list[Customer], suffix: str) -> list[Customer]:
    """The same scripts under fresh ids and without identities (bare Rasa has no hub to identify anyone)."""
    return [Customer(f"{c.user_id}-{suffix}", c.turns) for c in customers]


def _load_summary(result: LoadResult) -> dict[str, Any]:
    return result.summary()


def run_serving_and_edits(model: Path, args: argparse.Namespace, workdir: Path, results: dict[str, Any]) -> None:
    run_id = uuid.uuid4().hex[:6]
    # Bare Rasa loads its model while the stack starts (start-up is not measured); it is idle until its turn.
    bare_process, bare_url = start_bare_rasa(workdir / "bare", model, wait=False)
    try:
        logger.info("Starting the full stack (API, Rasa, action server) on free ports under %s", workdir)
        with phase(results, "start_stack"):
            stack = start_full_stack(workdir / "stack", model)
    except BaseException:
        stop_all([bare_process])
        raise
    try:
        with phase(results, "start_bare_rasa_extra_wait"):
            wait_until_ready(bare_process, READY_TIMEOUT_SECONDS)
        customers, warmup = _customers(stack, args, run_id)
        logger.info("Full stack: %d customers x %d turns", len(customers), args.turns)
        pids = {name: stack.pid(name) for name in ("api", "rasa", "actions")}
        with phase(results, "load_full_stack"), cpu_during(pids) as full_cpu:
            full = asyncio.run(run_load(ApiTarget(stack.api_url), customers, warmup, args.think))
        memory = {name: peak_memory_mib(stack.pid(name)) for name in ("api", "rasa", "actions")}
        serving: dict[str, Any] = {
            "customers": args.customers,
            "turns": args.turns,
            "think_seconds": args.think,
            "warmup_turns": args.warmup,
            "full_stack": _load_summary(full),
            "latencies": {"full_stack": [s.seconds for s in full.samples if s.ok]},
            "identified_customers": sum(c.web_user_id is not None for c in customers),
        }
        results["serving"] = serving
        logger.info("FAQ answer edit -> live")
        results.setdefault("edits", {})["faq"] = edits.faq_edit_to_live(
            stack.api_url, stack.session_factory, **load_scenarios()["faq_edit"]
        )

        # Breakdown of the overhead: the stack's own Rasa (SQL tracker store + action server), no hub.
        logger.info("Stack's Rasa directly (actions + SQL tracker store, without the API hub)")
        with cpu_during(pids) as direct_cpu:
            direct = asyncio.run(
                run_load(
                    RasaTarget(stack.settings.rasa_url, name="stack_rasa"),
                    _anonymous(customers, "direct"),
                    _anonymous(warmup, "direct"),
                    args.think,
                )
            )
        serving["stack_rasa"] = _load_summary(direct)
        serving["cpu_seconds"] = {"full_stack": full_cpu, "stack_rasa": direct_cpu}
        serving["latencies"]["stack_rasa"] = [s.seconds for s in direct.samples if s.ok]

        logger.info("Bare Rasa (same model, REST channel, no action endpoint, in-memory trackers)")
        try:
            with cpu_during({"bare_rasa": bare_process.popen.pid}) as bare_cpu:
                bare = asyncio.run(
                    run_load(
                        RasaTarget(bare_url),
                        _anonymous(customers, "bare"),
                        _anonymous(warmup, "bare"),
                        args.think,
                    )
                )
            memory["bare_rasa"] = peak_memory_mib(bare_process.popen.pid)
        finally:
            stop_all([bare_process])
        serving["bare_rasa"] = _load_summary(bare)
        serving["cpu_seconds"]["bare_rasa"] = bare_cpu
        serving["latencies"]["bare_rasa"] = [s.seconds for s in bare.samples if s.ok]
        serving["memory"] = memory
        serving["overhead"] = {
            q: ratio(serving["full_stack"][q], serving["bare_rasa"][q]) for q in ("p50", "p95", "p99", "mean")
        }
        serving["overhead"]["throughput"] = ratio(
            serving["bare_rasa"]["messages_per_second"], serving["full_stack"]["messages_per_second"]
        )

        if "training" not in args.skip:
            logger.info("Forced full training (cold cache) of a copy of the project")
            with phase(results, "full_training"):
                full_training, project = edits.full_training(workdir / "train")
            results["training"] = {"full": full_training}
            logger.info("NLU example edit -> retrain -> PUT /model -> live")
            with phase(results, "nlu_edit"):
                results.setdefault("edits", {})["nlu"] = edits.nlu_edit_to_live(
                    stack.api_url,
                    stack.settings.rasa_url,
                    stack.session_factory,
                    project,
                    workdir / "train",
                    **load_scenarios()["nlu_edit"],
                )
    finally:
        stop_all([bare_process])
        stack.stop()


def write_outputs(results: dict[str, Any], out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    text = markdown(results)
    (out_dir / "latest.md").write_text(text, encoding="utf-8")
    subprocess.run(
        [str(RASA_PYTHON), "-m", "bench.charts", str(out_dir / "latest.json"), str(out_dir)],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        check=True,
    )
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--eval",
        type=Path,
        default=PROJECT_ROOT / "tests" / "nlu" / "test_nlu.jsonl",
        help="JSONL NLU test set (make bench NLU_EVAL=...)",
    )
    parser.add_argument("--customers", type=int, default=20, help="concurrent simulated customers")
    parser.add_argument("--turns", type=int, default=12, help="measured turns per customer")
    parser.add_argument("--warmup", type=int, default=4, help="unmeasured warm-up turns per target")
    parser.add_argument("--think", type=float, default=0.0, help="think time between a reply and the next turn (s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--skip",
        type=lambda s: {p for p in s.split(",") if p},
        default=set(),
        help="comma-separated parts to skip: nlu, serving, training",
    )
    parser.add_argument("--retrain-default", action="store_true", help="retrain baseline (b) even if cached")
    parser.add_argument("--model", type=Path, help="model to benchmark (default: stack.model.ensure_model())")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--keep-workdir", action="store_true", help="keep the temp dir (logs, DBs, models)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine_info(), "notes": []}
    results["arguments"] = {
        "eval": str(args.eval),
        "customers": args.customers,
        "turns": args.turns,
        "warmup": args.warmup,
        "think": args.think,
        "seed": args.seed,
        "skip": sorted(args.skip),
    }
    fresh = args.model is None and not model_path_for(training_fingerprint()).exists()
    model_started = time.perf_counter()
    model = args.model.resolve() if args.model else ensure_model()
    results["model"] = {
        "path": model.name,
        "trained_now": fresh,
        "ensure_seconds": time.perf_counter() - model_started,
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        if "nlu" not in args.skip:
            logger.info("NLU: (a) ours, (b) Rasa default zh, (c) TF-IDF + LR on %s", args.eval)
            with phase(results, "nlu"):
                results["nlu"] = run_nlu(model, args.eval, workdir, args.retrain_default)
        if "serving" not in args.skip:
            run_serving_and_edits(model, args, workdir, results)
    finally:
        if args.keep_workdir:
            logger.info("Work dir kept: %s", workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    results["total_seconds"] = time.perf_counter() - started
    results["targets"] = [c.__dict__ | {"verdict": c.verdict} for c in check_targets(results)]
    text = write_outputs(results, args.out)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
