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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.security import ServiceToken
from bench import edits
from bench.live import READY_TIMEOUT_SECONDS, customer_scripts, start_bare_rasa, start_full_stack
from bench.load import ApiTarget, RasaTarget, Target, run_load
from bench.machine import machine_info
from bench.memory import cpu_during, peak_memory_mib
from bench.report import check_targets, markdown
from bench.scripts import Customer, load_scenarios
from bench.soak import SoakPlan, run_soak
from bench.stats import ratio
from core.settings import PROJECT_ROOT
from stack.model import ensure_model, model_path_for, rasa_env, training_fingerprint
from stack.paths import RASA_BIN
from stack.processes import stop_all, wait_until_ready

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
# Out-of-fold predictions of the cross-validation: the held-out data bench/calibrate.py reads.
CV_HELD_OUT = PROJECT_ROOT / "var" / "bench" / "cv_held_out.json"
# A customer reads the reply and types the next message; a person typing Chinese needs longer than 2 s,
# so this is a heavier load than real customers give at the same number of conversations.
DEFAULT_THINK_SECONDS = 2.0
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


def run_nlu(model: Path, eval_paths: list[Path], workdir: Path, retrain_default: bool, cv_folds: int) -> dict[str, Any]:
    """bench/nlu_eval.py in the rasa env; its (chatty) output goes to a log file, shown if it fails."""
    out, log_path = workdir / "nlu.json", workdir / "nlu_eval.log"
    argv = [str(RASA_PYTHON), "-m", "bench.nlu_eval", "--ours", str(model), "--cv-folds", str(cv_folds)]
    argv += [arg for path in eval_paths for arg in ("--eval", str(path))]
    argv += ["--out", str(out), *(["--retrain-default"] if retrain_default else [])]
    with log_path.open("wb") as log:
        code = subprocess.run(argv, cwd=PROJECT_ROOT, env=rasa_env(), stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
        raise RuntimeError(f"bench.nlu_eval failed with code {code}:\n{tail}")
    return json.loads(out.read_text(encoding="utf-8"))


def _anonymous(customers: list[Customer], suffix: str) -> list[Customer]:
    """The same scripts under fresh ids and without identities (bare Rasa has no hub to identify anyone)."""
    return [Customer(f"{c.user_id}-{suffix}", c.turns, start_delay=c.start_delay) for c in customers]


@dataclass
class Measured:
    summary: dict[str, Any]
    cpu: dict[str, float]
    latencies: list[float]


def measure(target: Target, customers: list[Customer], warmup: list[Customer], pids: dict[str, int]) -> Measured:
    """One load phase against one target, with the CPU each server process used meanwhile."""
    logger.info("Load: %s, %d customers x %d turns", target.name, len(customers), len(customers[0].turns))
    with cpu_during(pids) as cpu:
        result = asyncio.run(run_load(target, customers, warmup))
    return Measured(result.summary(), cpu, [s.seconds for s in result.samples if s.ok])


def overhead(full: dict[str, Any], bare: dict[str, Any]) -> dict[str, float | None]:
    ratios = {q: ratio(full[q], bare[q]) for q in ("p50", "p95", "p99", "mean")}
    ratios["throughput"] = ratio(bare["messages_per_second"], full["messages_per_second"])
    return ratios


def run_serving_and_edits(
    model: Path, project: Path | None, args: argparse.Namespace, workdir: Path, results: dict[str, Any]
) -> None:
    """Load phases, the FAQ edit and (given the trained copy of the project) the NLU edit on a running stack.

    Two loads per target: "chat" (customers with think times, arriving spread out: the targets are judged
    here) and "saturation" (no think time, all at once: capacity). The same scripts go to the full stack
    (API hub) and to bare Rasa (REST channel), under fresh sender ids per phase.
    """
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
        scripts, warmup = customer_scripts(
            stack,
            customers=args.customers,
            turns=args.turns,
            seed=args.seed,
            warmup_turns=args.warmup,
            loads={"chat": args.think, "sat": 0.0},
        )
        chat, burst = scripts["chat"], scripts["sat"]
        pids = {name: stack.pid(name) for name in ("api", "rasa", "actions")}
        api = ApiTarget(stack.api_url)
        with phase(results, "load_full_stack"):
            full = measure(api, chat, warmup, pids)
            full_sat = measure(api, burst, [], pids)
        memory = {name: peak_memory_mib(stack.pid(name)) for name in ("api", "rasa", "actions")}
        serving: dict[str, Any] = {
            "customers": args.customers,
            "turns": args.turns,
            "think_seconds": args.think,
            "warmup_turns": args.warmup,
            "identified_customers": sum(c.web_user_id is not None for c in chat),
            "full_stack": full.summary,
            "latencies": {"full_stack": full.latencies},
            "cpu_seconds": {"full_stack": full.cpu},
            "saturation": {
                "full_stack": full_sat.summary,
                "latencies": {"full_stack": full_sat.latencies},
                "cpu_seconds": {"full_stack": full_sat.cpu},
            },
        }
        results["serving"] = serving
        logger.info("FAQ answer edit -> live")
        results.setdefault("edits", {})["faq"] = edits.faq_edit_to_live(
            stack.api_url, stack.session_factory, **load_scenarios()["faq_edit"]
        )
        if args.breakdown:
            # The stack's own Rasa (SQL tracker store + action server) without the hub: splits the overhead.
            rasa_auth = ServiceToken(stack.settings.rasa_jwt_secret).headers()
            direct = RasaTarget(stack.settings.rasa_url, name="stack_rasa", headers=rasa_auth)
            stack_rasa = measure(direct, _anonymous(chat, "direct"), _anonymous(warmup, "direct"), pids)
            serving["stack_rasa"] = stack_rasa.summary
            serving["latencies"]["stack_rasa"] = stack_rasa.latencies
            serving["cpu_seconds"]["stack_rasa"] = stack_rasa.cpu

        try:
            bare_pids = {"bare_rasa": bare_process.popen.pid}
            bare_target = RasaTarget(bare_url)
            with phase(results, "load_bare_rasa"):
                bare = measure(bare_target, _anonymous(chat, "bare"), _anonymous(warmup, "bare"), bare_pids)
                bare_sat = measure(bare_target, _anonymous(burst, "bare"), [], bare_pids)
            memory["bare_rasa"] = peak_memory_mib(bare_process.popen.pid)
        finally:
            stop_all([bare_process])
        serving["bare_rasa"] = bare.summary
        serving["latencies"]["bare_rasa"] = bare.latencies
        serving["cpu_seconds"]["bare_rasa"] = bare.cpu
        serving["overhead"] = overhead(full.summary, bare.summary)
        saturation = serving["saturation"]
        saturation["bare_rasa"] = bare_sat.summary
        saturation["latencies"]["bare_rasa"] = bare_sat.latencies
        saturation["cpu_seconds"]["bare_rasa"] = bare_sat.cpu
        saturation["overhead"] = overhead(full_sat.summary, bare_sat.summary)
        serving["memory"] = memory

        if project is not None:
            logger.info("NLU example edit -> retrain -> PUT /model -> live")
            with phase(results, "nlu_edit"):
                results.setdefault("edits", {})["nlu"] = edits.nlu_edit_to_live(
                    stack.api_url,
                    stack.settings.rasa_url,
                    stack.session_factory,
                    project,
                    workdir / "train",
                    rasa_headers=ServiceToken(stack.settings.rasa_jwt_secret).headers(),
                    **load_scenarios()["nlu_edit"],
                )
    finally:
        stop_all([bare_process])
        stack.stop()


def prepare_model(args: argparse.Namespace, workdir: Path, results: dict[str, Any]) -> tuple[Path, Path | None]:
    """The model (a) to benchmark, and the trained copy of the project when training is measured.

    With training measured (the default), (a) is the model of the forced, cold-cache full training of
    this run: trained once, on the same data as the baselines, in the same run. It is also installed
    as the project's cached model when that is missing (a fresh clone), so `make run` reuses it.
    """
    if args.model is not None or "training" in args.skip:
        started = time.perf_counter()
        fresh = args.model is None and not model_path_for(training_fingerprint()).exists()
        model = args.model.resolve() if args.model else ensure_model()
        results["model"] = {"path": model.name, "trained_now": fresh, "seconds": time.perf_counter() - started}
        return model, None
    logger.info("Forced full training (cold cache) of a copy of the project: model (a)")
    with phase(results, "full_training"):
        full_training, project, model = edits.full_training(workdir / "train")
    results["training"] = {"full": full_training}
    results["model"] = {"path": model.name, "trained_now": True, "seconds": full_training["seconds"]}
    fingerprint = training_fingerprint(project)
    cached = model_path_for(fingerprint)
    if fingerprint == training_fingerprint() and not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(model, cached)
        results["model"]["installed_as"] = cached.name
    return model, project


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
        nargs="+",
        default=[
            PROJECT_ROOT / "tests" / "nlu" / "independent_test.jsonl",
            PROJECT_ROOT / "tests" / "nlu" / "test_nlu.jsonl",
        ],
        help="JSONL NLU test sets; the first is the one the targets are checked on (make bench NLU_EVAL=...)",
    )
    parser.add_argument(
        "--cv-folds", type=int, default=5, help="cross-validation folds of config.yml on data/nlu (0: none)"
    )
    parser.add_argument("--customers", type=int, default=20, help="concurrent simulated customers")
    parser.add_argument("--turns", type=int, default=12, help="measured turns per customer")
    parser.add_argument("--warmup", type=int, default=4, help="unmeasured warm-up turns per target")
    parser.add_argument(
        "--think",
        type=float,
        default=DEFAULT_THINK_SECONDS,
        help="mean think time after each reply in the chat load (s); the saturation load uses none",
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also load the stack's Rasa directly (hub vs Rasa overhead)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--skip",
        type=lambda s: {p for p in s.split(",") if p},
        default=set(),
        help="comma-separated parts to skip: nlu, serving, training, soak",
    )
    parser.add_argument(
        "--soak-minutes", type=float, default=10.0, help="wall time of the replicated soak (0 skips it)"
    )
    parser.add_argument("--soak-customers", type=int, default=30, help="concurrent customers of the soak")
    parser.add_argument(
        "--soak-visit-turns", type=int, default=SoakPlan.visit_turns, help="turns per visitor before a new one comes"
    )
    parser.add_argument("--soak-kill", help="a service to kill -9 halfway through the soak (rasa-1, actions-2, ...)")
    parser.add_argument(
        "--soak-think", type=float, default=SoakPlan.think_seconds, help="mean think time of the soak's customers (s)"
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
        "eval": [str(path) for path in args.eval],
        "cv_folds": args.cv_folds,
        "customers": args.customers,
        "turns": args.turns,
        "warmup": args.warmup,
        "think": args.think,
        "seed": args.seed,
        "skip": sorted(args.skip),
        "soak": {
            "minutes": args.soak_minutes,
            "customers": args.soak_customers,
            "think": args.soak_think,
            "kill": args.soak_kill,
            "visit_turns": args.soak_visit_turns,
        },
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        model, project = prepare_model(args, workdir, results)
        if "nlu" not in args.skip:
            logger.info("NLU: (a) ours, (b) Rasa default zh, (c) TF-IDF + LR on %s", args.eval)
            with phase(results, "nlu"):
                nlu = run_nlu(model, args.eval, workdir, args.retrain_default, args.cv_folds)
            if "training" in results:
                for nlu_set in nlu["sets"]:
                    nlu_set["systems"]["ours"]["train_seconds"] = results["training"]["full"]["seconds"]
            results["nlu"], results["nlu_sets"] = nlu["sets"][0], nlu["sets"]
            if "cross_validation" in nlu:
                held_out = nlu["cross_validation"].pop("held_out")
                results["nlu_cv"] = nlu["cross_validation"]
                CV_HELD_OUT.parent.mkdir(parents=True, exist_ok=True)
                CV_HELD_OUT.write_text(json.dumps(held_out, ensure_ascii=False), encoding="utf-8")
        if "serving" not in args.skip:
            run_serving_and_edits(model, project, args, workdir, results)
        if "soak" not in args.skip and args.soak_minutes > 0:
            plan = SoakPlan(
                args.soak_customers,
                args.soak_minutes,
                args.soak_think,
                args.seed,
                args.soak_kill,
                args.soak_visit_turns,
            )
            with phase(results, "soak"):
                results["soak"] = run_soak(model, workdir / "soak", plan)
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
