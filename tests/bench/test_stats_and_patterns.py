"""Latency statistics, baseline entity patterns, /proc parsing and the target verdicts of bench/."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench.memory import cpu_seconds, peak_memory_mib, status_kib
from bench.patterns import compile_patterns, extract_entities
from bench.report import check_targets, markdown
from bench.stats import latency_summary, percentile


def test_percentile_interpolates_like_numpy() -> None:
    values = [0.1, 0.2, 0.3, 0.4, 1.0]
    assert percentile(values, 50) == pytest.approx(0.3)
    assert percentile(values, 95) == pytest.approx(0.88)
    assert percentile(values, 0) == 0.1 and percentile(values, 100) == 1.0
    assert percentile([2.0], 99) == 2.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_latency_summary_counts_throughput_and_replies_over_five_seconds() -> None:
    summary = latency_summary([0.5, 0.5, 6.0, 1.0], wall_seconds=2.0)
    assert summary["messages_per_second"] == 2.0
    assert summary["over_wechat_window"] == 1
    assert summary["max"] == 6.0


def test_patterns_extract_every_match_longest_lookup_first_and_map_synonyms() -> None:
    patterns = compile_patterns([("order_id", r"[DＤ]{2}[0-9０-９]{12}")], [("business", ["汽车", "汽车美容", "包间"])])
    synonyms = {"汽车美容": "car_care", "包间": "restaurant"}
    found = extract_entities("dd202601010001 汽车美容和包间", patterns, synonyms)
    assert found == [("order_id", "dd202601010001"), ("business", "car_care"), ("business", "restaurant")]


def test_status_kib_and_peak_memory_read_a_process_tree(tmp_path: Path) -> None:
    for pid, children, hwm in ((10, "11", 2048), (11, "", 1024)):
        (tmp_path / str(pid) / "task" / str(pid)).mkdir(parents=True)
        (tmp_path / str(pid) / "task" / str(pid) / "children").write_text(children)
        (tmp_path / str(pid) / "status").write_text(f"Name:\tx\nVmHWM:\t {hwm} kB\nVmRSS:\t  512 kB\n")
    assert status_kib("VmHWM:\t 42 kB\n", "VmHWM") == 42
    assert peak_memory_mib(10, proc=tmp_path) == {"peak_mib": 3.0, "rss_mib": 1.0, "processes": 2}


def _independent_set_result() -> dict[str, Any]:
    return {
        "eval_file": "tests/nlu/independent_test.jsonl",
        "systems": {
            "ours": {
                "intent_accuracy": 0.96,
                "out_of_scope": {"precision": 0.95, "recall": 0.7},
                "out_of_scope_with_fallback": {"precision": 0.85, "recall": 0.9},
                "entities": {
                    **{name: {"f1": 0.97} for name in ("order_id", "ticket_id", "booking_id", "phone")},
                    "business": {"f1": 0.93},
                    "store": {"f1": 0.8},
                },
                "per_intent": {"greet": {"f1": 0.99}, "complain": {"f1": 0.84}},
                "mean_parse_seconds": 0.012,
            },
            "rasa_default": {"intent_accuracy": 0.97},
            "tfidf_logreg": {"intent_accuracy": 0.9},
        },
    }


def test_targets_pass_and_miss() -> None:
    results = {
        "nlu": _independent_set_result(),
        "serving": {
            "customers": 20,
            "full_stack": {"p50": 0.3, "p99": 1.2, "max": 1.5, "over_wechat_window": 0, "errors": 0},
            "bare_rasa": {"p50": 0.25},
        },
        "training": {"full": {"seconds": 200.0}},
        "edits": {"faq": {"served": True, "seconds": 0.4}},
    }
    verdicts = {c.name: c.verdict for c in check_targets(results)}
    assert verdicts == {
        "intent accuracy": "PASS",
        "intent accuracy ahead of (b) Rasa default and (c) TF-IDF": "MISS",
        "out_of_scope recall, nlu_fallback counted as out of scope": "PASS",
        "out_of_scope precision, nlu_fallback not counted": "PASS",
        "entity F1 order_id": "PASS",
        "entity F1 ticket_id": "PASS",
        "entity F1 booking_id": "PASS",
        "entity F1 phone": "PASS",
        "entity F1 business": "PASS",
        "entity F1 store": "MISS",
        "lowest intent F1": "MISS",
        "mean parse time (ours)": "PASS",
        "full-stack p50 / bare p50": "PASS",
        "full-stack p99 at 20 customers": "MISS",
        "no reply slower than 5 s": "PASS",
        "full training": "MISS",
        "FAQ answer edit live": "PASS",
    }


def test_nlu_targets_are_judged_on_the_independent_set_whatever_the_order_of_the_files() -> None:
    independent = _independent_set_result()
    other = {**_independent_set_result(), "eval_file": "tests/nlu/test_nlu.jsonl"}
    other["systems"] = {**other["systems"], "ours": {**other["systems"]["ours"], "intent_accuracy": 0.5}}
    results = {"nlu": other, "nlu_sets": [other, independent]}
    checks = {c.name: c for c in check_targets(results)}
    assert checks["intent accuracy"].measured == "96.0%" and checks["intent accuracy"].verdict == "PASS"
    ahead = checks["intent accuracy ahead of (b) Rasa default and (c) TF-IDF"]
    assert ahead.measured == "96.0% vs 97.0% (b) / 90.0% (c)" and ahead.verdict == "MISS"
    oos = checks["out_of_scope recall, nlu_fallback counted as out of scope"]
    assert oos.measured == "90.0% (precision 85.0%)"
    assert checks["out_of_scope precision, nlu_fallback not counted"].measured == "95.0% (recall 70.0%)"
    assert "targets on the frozen independent set `tests/nlu/independent_test.jsonl`" in markdown(
        {"machine": _machine()}
    )


def test_nlu_targets_are_not_judged_without_the_independent_set_or_a_baseline() -> None:
    other = {**_independent_set_result(), "eval_file": "tests/nlu/test_nlu.jsonl"}
    checks = check_targets({"nlu": other, "nlu_sets": [other]})
    assert [(c.name, c.verdict) for c in checks] == [("NLU targets", "n/a")]
    alone = _independent_set_result()
    alone["systems"] = {"ours": alone["systems"]["ours"], "tfidf_logreg": {"intent_accuracy": 0.9}}
    verdicts = {c.name: c.verdict for c in check_targets({"nlu": alone})}
    assert verdicts["intent accuracy ahead of (b) Rasa default and (c) TF-IDF"] == "n/a"


def _machine() -> dict[str, Any]:
    return {
        "date": "d",
        "cpu_model": "c",
        "cores": 2,
        "usable_cores": 2,
        "memory_gib": 1,
        "load_average_at_start": [0.0, 0.0, 0.0],
    }


def test_cpu_seconds_sums_utime_and_stime_over_the_tree(tmp_path: Path) -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    for pid, children, utime, stime in ((20, "21", 3 * ticks, ticks), (21, "", ticks, 0)):
        (tmp_path / str(pid) / "task" / str(pid)).mkdir(parents=True)
        (tmp_path / str(pid) / "task" / str(pid) / "children").write_text(children)
        rest = " ".join(["0"] * 10)  # fields 4..13
        (tmp_path / str(pid) / "stat").write_text(f"{pid} (python (x)) S {rest} {utime} {stime} 0 0\n")
    assert cpu_seconds(20, proc=tmp_path) == 5.0


def _phase_summary(p50: float, over: int = 0) -> dict[str, object]:
    return {
        "messages": 240,
        "errors": 0,
        "messages_per_second": 9.5,
        "p50": p50,
        "p95": 2 * p50,
        "p99": 3 * p50,
        "max": 4 * p50,
        "over_wechat_window": over,
    }


def test_report_shows_the_chat_load_and_the_saturation_load_apart() -> None:
    cpu = {"wall": 30.0, "api": 2.0, "rasa": 10.0, "actions": 1.0, "load_client": 0.5}
    serving = {
        "customers": 20,
        "turns": 12,
        "think_seconds": 2.0,
        "warmup_turns": 4,
        "full_stack": _phase_summary(0.12),
        "bare_rasa": _phase_summary(0.05),
        "overhead": {"p50": 2.4},
        "cpu_seconds": {"full_stack": cpu},
        "saturation": {
            "full_stack": _phase_summary(2.0, over=3),
            "bare_rasa": _phase_summary(0.5),
            "overhead": {"p50": 4.0},
            "cpu_seconds": {"full_stack": cpu},
        },
    }
    results = {"machine": _machine(), "serving": serving}
    text = markdown(results)
    chat, saturation = text.split("### Saturation")
    assert "| full_stack | 240 | 0 | 9.5 | 0.120 s |" in chat and "p50 2.40x" in chat
    assert "| full_stack | 240 | 0 | 9.5 | 2.000 s |" in saturation and "p50 4.00x" in saturation
    assert "| full_stack | 30.0 | 2.0 | 10.0 | 1.0 | – | 0.5 | 53 |" in chat  # 13 CPU s / (240 + 4) messages
    verdicts = {c.name: (c.verdict, c.measured) for c in check_targets(results)}
    assert verdicts["full-stack p50 / bare p50"] == ("MISS", "2.40x")
    assert verdicts["no reply slower than 5 s"] == ("PASS", "0 over, max 0.480 s (saturation: 3 over)")
