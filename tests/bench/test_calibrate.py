"""bench/calibrate.py on hand-made held-out rows."""

from __future__ import annotations

from bench.calibrate import fallback_threshold, faq_thresholds, useful_answers


def row(gold: str, intent: str, confidence: float, faq_key: str | None = None, faq_confidence: float = 0.0) -> dict:
    return {
        "gold": gold,
        "intent": intent,
        "confidence": confidence,
        "faq_key": faq_key,
        "faq_confidence": faq_confidence,
    }


def test_fallback_threshold_trades_right_answers_against_out_of_scope_caught() -> None:
    rows = [row("greet", "greet", 0.9), row("greet", "greet", 0.5), row("out_of_scope", "faq", 0.45)]
    assert useful_answers(rows, 0.2) == 2
    assert useful_answers(rows, 0.5) == 3  # the wrong faq falls back, both greets survive
    assert useful_answers(rows, 0.6) == 2
    assert fallback_threshold(rows)[0] == 0.5


def test_faq_threshold_is_the_lowest_that_keeps_answers_right() -> None:
    rows = [
        row("faq/wifi", "faq", 0.9, "faq/wifi", 0.9),
        row("faq/wifi", "faq", 0.9, "faq/wifi", 0.7),
        row("out_of_scope", "faq", 0.8, "faq/wifi", 0.5),
        row("faq/parking", "faq", 0.9, "faq/parking", 0.95),
    ]
    assert faq_thresholds(rows) == {"parking": 0.3, "wifi": 0.7}
