"""Targets (reported, never asserted) and the Markdown report of one benchmark run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.nlu_metrics import CONTRACT_ENTITIES
from bench.soak_report import soak_section, soak_verdict

# Issue 10's NLU targets are judged on this frozen file (never a training source), whatever else --eval scores.
INDEPENDENT_SET = "tests/nlu/independent_test.jsonl"
CPU_COLUMNS = ("api", "rasa", "actions", "bare_rasa", "load_client")
SYSTEM_TITLES = {
    "ours": "(a) our pipeline (config.yml)",
    "rasa_default": "(b) Rasa default zh (Jieba+CountVectors+DIET)",
    "tfidf_logreg": "(c) TF-IDF char 1-4 + LogisticRegression",
}


@dataclass(frozen=True)
class TargetCheck:
    name: str
    target: str
    measured: str
    passed: bool | None  # None: not measured in this run

    @property
    def verdict(self) -> str:
        return "n/a" if self.passed is None else ("PASS" if self.passed else "MISS")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"


def targets_set(results: dict[str, Any]) -> dict[str, Any] | None:
    """The NLU result on the frozen independent set: issue 10's NLU targets are judged there and only there."""
    sets = results.get("nlu_sets") or ([results["nlu"]] if "nlu" in results else [])
    return next((s for s in sets if Path(str(s.get("eval_file", ""))).as_posix().endswith(INDEPENDENT_SET)), None)


def check_targets(results: dict[str, Any]) -> list[TargetCheck]:
    checks: list[TargetCheck] = []
    if "nlu" in results or "nlu_sets" in results:
        checks += _nlu_checks(targets_set(results))
    serving = results.get("serving", {})
    full, bare = serving.get("full_stack"), serving.get("bare_rasa")
    if full and bare:
        ratio = full["p50"] / bare["p50"]
        checks.append(TargetCheck("full-stack p50 / bare p50", "<= 1.5x", f"{ratio:.2f}x", ratio <= 1.5))
    if full:
        checks.append(
            TargetCheck(
                f"full-stack p99 at {serving.get('customers')} customers",
                "< 1 s",
                _s(full["p99"]),
                full["p99"] < 1.0,
            )
        )
        saturated = serving.get("saturation", {}).get("full_stack")
        checks.append(
            TargetCheck(
                "no reply slower than 5 s",
                "0 over 5 s",
                f"{full['over_wechat_window']} over, max {_s(full['max'])}"
                + (f" (saturation: {saturated['over_wechat_window']} over)" if saturated else ""),
                full["over_wechat_window"] == 0 and full["errors"] == 0,
            )
        )
    soak = results.get("soak")
    if soak and "skipped" not in soak:
        goal, measured, met = soak_verdict(soak)
        checks.append(
            TargetCheck(
                f"replicated soak, {soak['customers']} customers x {soak['minutes']:g} min", goal, measured, met
            )
        )
    training = results.get("training", {}).get("full")
    if training:
        checks.append(
            TargetCheck("full training", "< 180 s", f"{training['seconds']:.0f} s", training["seconds"] < 180)
        )
    faq = results.get("edits", {}).get("faq")
    if faq:
        checks.append(
            TargetCheck(
                "FAQ answer edit live",
                "<= 5 s",
                _s(faq["seconds"]),
                bool(faq["served"]) and faq["seconds"] <= 5.0,
            )
        )
    return checks


ID_ENTITIES = ("order_id", "ticket_id", "booking_id", "phone")
NAMED_ENTITIES = ("business", "store")


def _nlu_checks(nlu: dict[str, Any] | None) -> list[TargetCheck]:
    """Issue 10's targets for our pipeline, on the independent set, side by side with baselines (b) and (c)."""
    if nlu is None:
        return [TargetCheck("NLU targets", f"on `{INDEPENDENT_SET}`", "that file was not scored in this run", None)]
    systems = nlu["systems"]
    ours = systems["ours"]
    baselines = {k: systems[k]["intent_accuracy"] for k in ("rasa_default", "tfidf_logreg") if k in systems}
    checks = [
        TargetCheck("intent accuracy", ">= 95%", _pct(ours["intent_accuracy"]), ours["intent_accuracy"] >= 0.95),
        TargetCheck(
            "intent accuracy ahead of (b) Rasa default and (c) TF-IDF",
            "> (b) and (c)",
            f"{_pct(ours['intent_accuracy'])} vs "
            + " / ".join(
                f"{_pct(baselines.get(k))} ({label})" for k, label in (("rasa_default", "b"), ("tfidf_logreg", "c"))
            ),
            all(ours["intent_accuracy"] > v for v in baselines.values()) if len(baselines) == 2 else None,
        ),
    ]
    # (what is judged, its scores, the judged measure, the other one shown beside it, the goal)
    out_of_scope = (
        (
            "recall, nlu_fallback counted as out of scope",
            ours.get("out_of_scope_with_fallback"),
            "recall",
            "precision",
            0.85,
        ),
        ("precision, nlu_fallback not counted", ours.get("out_of_scope"), "precision", "recall", 0.90),
    )
    for name, scores, judged, other, goal in out_of_scope:
        checks.append(
            TargetCheck(
                f"out_of_scope {name}",
                f">= {goal:.0%}",
                "n/a" if not scores else f"{_pct(scores[judged])} ({other} {_pct(scores[other])})",
                None if not scores else scores[judged] >= goal,
            )
        )
    for names, target in ((ID_ENTITIES, 0.95), (NAMED_ENTITIES, 0.90)):
        for name in names:
            scores = ours["entities"].get(name)
            checks.append(
                TargetCheck(
                    f"entity F1 {name}",
                    f">= {target}",
                    "not in the test file" if not scores else f"{scores['f1']:.3f}",
                    None if not scores else scores["f1"] >= target,
                )
            )
    worst = min(ours["per_intent"].items(), key=lambda item: item[1]["f1"])
    checks.append(
        TargetCheck("lowest intent F1", ">= 0.85", f"{worst[0]} {worst[1]['f1']:.2f}", worst[1]["f1"] >= 0.85)
    )
    parse_ms = 1000 * ours["mean_parse_seconds"]
    checks.append(TargetCheck("mean parse time (ours)", "< 20 ms", f"{parse_ms:.1f} ms", parse_ms < 20))
    if ours.get("mean_parse_cpu_seconds") is not None:
        cpu_ms = 1000 * ours["mean_parse_cpu_seconds"]
        checks.append(TargetCheck("mean parse CPU time (ours)", "< 20 ms", f"{cpu_ms:.1f} ms", cpu_ms < 20))
    return checks


def _cv_section(cv: dict[str, Any]) -> list[str]:
    lines = [
        f"### Cross-validation of `{cv['config']}` on data/nlu ({cv['folds']} stratified folds, {cv['seconds']:.0f} s)",
        "",
        f"{cv['examples']} held-out examples: intent accuracy {_pct(cv['intent_accuracy'])}, "
        f"intent + FAQ key {_pct(cv['full_label_accuracy'])}, macro-F1 {cv['macro_f1']:.3f}, "
        f"nlu_fallback answers {cv['fallback_predictions']}.",
        "",
        "| intent | n | F1 |",
        "|---|---|---|",
    ]
    lines += [f"| {i} | {v['support']:.0f} | {v['f1']:.2f} |" for i, v in cv["per_intent"].items()]
    return lines


def _nlu_section(nlu: dict[str, Any]) -> list[str]:
    systems = nlu["systems"]
    keys = [k for k in SYSTEM_TITLES if k in systems]
    lines = [
        "## NLU",
        "",
        f"Test file `{nlu['eval_file']}`: {nlu['rows']} rows, {nlu['scored_rows']} scored, "
        f"{nlu['unknown_rows']} with labels unknown to the training data"
        + (f" ({', '.join(nlu['unknown_labels'])})" if nlu["unknown_labels"] else "")
        + f"; {nlu['training_examples']} training examples.",
        "",
        "| metric | " + " | ".join(SYSTEM_TITLES[k] for k in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]

    def row(name: str, fn: Any) -> None:
        lines.append(f"| {name} | " + " | ".join(fn(systems[k]) for k in keys) + " |")

    row("intent accuracy", lambda s: _pct(s["intent_accuracy"]))
    row("intent macro-F1", lambda s: f"{s['macro_f1']:.3f}")
    row("intent + FAQ key accuracy", lambda s: _pct(s["full_label_accuracy"]))
    row("FAQ key accuracy", lambda s: f"{_pct(s['faq_key_accuracy'])} (n={s['faq_examples']})")
    row(
        "out_of_scope precision / recall",
        lambda s: (
            "n/a"
            if not s["out_of_scope"]
            else f"{_pct(s['out_of_scope']['precision'])} / {_pct(s['out_of_scope']['recall'])}"
        ),
    )
    row(
        "out_of_scope P / R, nlu_fallback counted as out of scope",
        lambda s: (
            "n/a"
            if not s.get("out_of_scope_with_fallback")
            else f"{_pct(s['out_of_scope_with_fallback']['precision'])} / "
            f"{_pct(s['out_of_scope_with_fallback']['recall'])}"
        ),
    )
    row("nlu_fallback answers", lambda s: str(s["fallback_predictions"]))
    # The contract entities, plus any other type the test file annotates (extra predicted types only add FPs).
    entity_types = sorted(
        {e for k in keys for e, v in systems[k]["entities"].items() if e in CONTRACT_ENTITIES or v["support"] > 0}
    )
    for entity in entity_types:
        row(
            f"entity P / R / F1 `{entity}`",
            lambda s, e=entity: (
                "n/a"
                if e not in s["entities"]
                else f"{s['entities'][e]['precision']:.2f} / {s['entities'][e]['recall']:.2f} / "
                f"{s['entities'][e]['f1']:.3f} (n={s['entities'][e]['support']:.0f})"
            ),
        )
    row(
        "training time",
        lambda s: (
            "reused" if s.get("train_seconds") is None and s["model"] != "in-memory" else _s(s.get("train_seconds"))
        ),
    )
    row("mean parse time", lambda s: f"{1000 * s['mean_parse_seconds']:.1f} ms")
    row(
        "mean parse CPU time",
        lambda s: "–" if s.get("mean_parse_cpu_seconds") is None else f"{1000 * s['mean_parse_cpu_seconds']:.1f} ms",
    )
    intents = sorted({i for k in keys for i in systems[k]["per_intent"]})
    lines += [
        "",
        "Per-intent F1:",
        "",
        "| intent | n | " + " | ".join(k for k in keys) + " |",
        "|---|---|" + "---|" * len(keys),
    ]
    for intent in intents:
        support = systems[keys[0]]["per_intent"].get(intent, {}).get("support", 0)
        lines.append(
            f"| {intent} | {support:.0f} | "
            + " | ".join(f"{systems[k]['per_intent'].get(intent, {}).get('f1', 0.0):.2f}" for k in keys)
            + " |"
        )
    return lines


def _latency_rows(phase: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    lines = [
        "| target | messages | errors | msg/s | p50 | p95 | p99 | max | > 5 s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        s = phase.get(name)
        if s:
            lines.append(
                f"| {name} | {s['messages']} | {s['errors']} | {s['messages_per_second']:.1f} | "
                f"{_s(s['p50'])} | {_s(s['p95'])} | {_s(s['p99'])} | {_s(s['max'])} | "
                f"{s['over_wechat_window']} |"
            )
    if phase.get("overhead"):
        o = phase["overhead"]
        lines += [
            "",
            "Full stack / bare Rasa: " + ", ".join(f"{k} {v:.2f}x" for k, v in o.items() if v is not None),
        ]
    return lines


def _cpu_rows(phase: dict[str, Any], warmup_turns: int) -> list[str]:
    lines = [
        "| target | wall | " + " | ".join(CPU_COLUMNS) + " | CPU ms per message (servers) |",
        "|---|---|" + "---|" * len(CPU_COLUMNS) + "---|",
    ]
    for name, cpu in phase["cpu_seconds"].items():
        servers = sum(v for k, v in cpu.items() if k not in ("wall", "load_client"))
        messages = phase.get(name, {}).get("messages", 0) + warmup_turns
        per_message = f"{1000 * servers / messages:.0f}" if messages else "n/a"
        lines.append(
            f"| {name} | {cpu['wall']:.1f} | "
            + " | ".join(f"{cpu[c]:.1f}" if c in cpu else "–" for c in CPU_COLUMNS)
            + f" | {per_message} |"
        )
    return lines


def _serving_section(serving: dict[str, Any]) -> list[str]:
    names = ("full_stack", "stack_rasa", "bare_rasa")
    lines = [
        "## Serving",
        "",
        "full_stack: API hub -> Rasa -> action server -> CRM. bare_rasa: same model, REST channel, no action "
        "endpoint, in-memory tracker store. stack_rasa (with `--breakdown`): the stack's Rasa server (SQL "
        "tracker store, action server) called directly, without the hub.",
        "",
        f"### Chat: {serving['customers']} concurrent customers × {serving['turns']} turns, think time "
        f"{serving['think_seconds']} s on average (0.5-1.5x), arrivals spread over one think time; "
        f"{serving['warmup_turns']} warm-up turns per target (not measured). The targets are judged here.",
        "",
        *_latency_rows(serving, names),
    ]
    if serving.get("cpu_seconds"):
        lines += ["", "CPU seconds per process during the phase (incl. warm-up, /proc/<pid>/stat):", ""]
        lines += _cpu_rows(serving, serving.get("warmup_turns", 0))
    saturation = serving.get("saturation")
    if saturation:
        lines += [
            "",
            f"### Saturation: the same {serving['customers']} customers with no think time, all at once",
            "",
            "Every customer sends its next message as soon as the reply arrives, so latency ≈ customers ÷ "
            "msg/s: this measures capacity, not what a customer waits.",
            "",
            *_latency_rows(saturation, names),
            "",
            *_cpu_rows(saturation, 0),
        ]
    if serving.get("memory"):
        lines += ["", "| process | peak RSS (VmHWM) | RSS at end | processes |", "|---|---|---|---|"]
        for name, m in serving["memory"].items():
            lines.append(f"| {name} | {m['peak_mib']} MiB | {m['rss_mib']} MiB | {m['processes']} |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"{m['date']} · {m['cpu_model']} · {m['cores']} cores ({m['usable_cores']} usable) · "
        f"{m['memory_gib']} GiB · load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_at_start'])}"
        f" · total run {results.get('total_seconds', 0):.0f} s",
        "",
        "## Targets",
        "",
        f"NLU targets on the frozen independent set `{INDEPENDENT_SET}` (issue 10).",
        "",
        "| target | goal | measured | verdict |",
        "|---|---|---|---|",
        *(f"| {c.name} | {c.target} | {c.measured} | {c.verdict} |" for c in check_targets(results)),
        "",
    ]
    for nlu in results.get("nlu_sets") or ([results["nlu"]] if "nlu" in results else []):
        lines += [*_nlu_section(nlu), ""]
    if "nlu_cv" in results:
        lines += [*_cv_section(results["nlu_cv"]), ""]
    if "serving" in results:
        lines += [*_serving_section(results["serving"]), ""]
    if "soak" in results:
        lines += [*soak_section(results["soak"]), ""]
    training, edits = results.get("training", {}), results.get("edits", {})
    if training or edits:
        lines += ["## Training and edit-to-live", "", "| measurement | seconds | notes |", "|---|---|---|"]
        if training.get("full"):
            lines.append(
                f"| full `rasa train` (forced, cold cache) | {training['full']['seconds']:.1f} | "
                "core + NLU, config.yml |"
            )
        if edits.get("faq"):
            f = edits["faq"]
            lines.append(
                f"| FAQ answer edit → served via API | {_s(f['seconds'])} | key `{f['key']}`, "
                f"{f['polls']} polls, served={f['served']} |"
            )
        if edits.get("nlu"):
            n = edits["nlu"]
            lines.append(
                f"| NLU example edit → served via API | {_s(n['seconds'])} | train {n['train_seconds']:.1f} s"
                f" (warm cache) + PUT /model {n['load_seconds']:.1f} s; key `{n['key']}`; answered before "
                f"edit: {n['answered_before_edit']}; served={n['served']} |"
            )
        lines.append("")
    if results.get("phases"):
        lines += ["Time per phase: " + ", ".join(f"{k} {v:.0f} s" for k, v in results["phases"].items()), ""]
    if results.get("notes"):
        lines += ["## Notes", "", *(f"- {note}" for note in results["notes"]), ""]
    return "\n".join(lines)
