"""The NLU scores of bench/nlu_metrics.py on hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.nlu_metrics import GoldRow, Prediction, entity_pairs, load_eval_file, normalise_value, score

ROWS = [
    GoldRow("a", "greet", ()),
    GoldRow("b", "greet", ()),
    GoldRow("c", "faq/wifi", ()),
    GoldRow("d", "faq/parking", ()),
    GoldRow("e", "out_of_scope", ()),
    GoldRow("f", "order_status", (("order_id", "DD202601010001"), ("phone", "13800000000"))),
]


def test_score_counts_base_intents_faq_keys_fallback_and_out_of_scope() -> None:
    predictions = [
        Prediction("greet", ()),
        Prediction("nlu_fallback", ()),  # a miss, not an abstention
        Prediction("faq/wifi", ()),
        Prediction("faq/wifi", ()),  # right intent, wrong key
        Prediction("out_of_scope", ()),
        Prediction("out_of_scope", (("order_id", "ＤＤ２０２６０１０１０００１"),)),
    ]
    result = score(ROWS, predictions)

    assert result["intent_accuracy"] == pytest.approx(4 / 6)
    assert result["full_label_accuracy"] == pytest.approx(3 / 6)
    assert result["faq_key_accuracy"] == pytest.approx(1 / 2)
    assert result["fallback_predictions"] == 1
    # greet: tp 1, fn 1 -> F1 2/3; faq: 2/2 -> 1; out_of_scope: tp 1, fp 1 -> 2/3; order_status: 0
    assert result["per_intent"]["greet"]["f1"] == pytest.approx(2 / 3)
    assert result["per_intent"]["faq"]["f1"] == pytest.approx(1.0)
    assert result["macro_f1"] == pytest.approx((2 / 3 + 1 + 2 / 3 + 0) / 4)
    assert result["out_of_scope"] == {"precision": 0.5, "recall": 1.0, "support": 1.0}
    # the full-width order number matches after NFKC; the phone was missed
    assert result["entities"]["order_id"]["f1"] == pytest.approx(1.0)
    assert result["entities"]["phone"]["recall"] == 0.0
    assert [e["text"] for e in result["errors"]] == ["b", "d", "f"]


def test_entity_false_positives_lower_precision_per_type() -> None:
    rows = [GoldRow("x", "inform", (("business", "hotel"),))]
    predictions = [Prediction("inform", (("business", "hotel"), ("business", "restaurant"), ("party_size", "两位")))]
    entities = score(rows, predictions)["entities"]
    assert entities["business"]["precision"] == 0.5 and entities["business"]["recall"] == 1.0
    assert entities["party_size"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0.0}


def test_ids_and_phones_are_normalised_other_values_are_not() -> None:
    assert normalise_value("booking_id", "ｙｙ２０２６") == "YY2026"
    assert normalise_value("phone", "１３８") == "138"
    assert normalise_value("party_size", "２位") == "２位"
    assert entity_pairs([{"entity": "ticket_id", "value": "ts1"}]) == (("ticket_id", "TS1"),)


def test_score_refuses_mismatched_lengths() -> None:
    with pytest.raises(ValueError):
        score(ROWS, [])


def test_load_eval_file_sets_unknown_labels_aside(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    lines = [
        {"text": "你好", "intent": "greet", "entities": []},
        {"text": "有优惠券吗", "intent": "faq/coupons", "entities": []},
        {"text": "开发票", "intent": "ask_invoice"},
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n", encoding="utf-8")

    loaded = load_eval_file(path, known_labels={"greet", "faq/wifi"})

    assert [r.text for r in loaded.rows] == ["你好"]
    assert len(loaded.unknown) == 2
    assert loaded.unknown_labels == ["ask_invoice", "faq/coupons"]


def test_load_eval_file_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text('{"text": "a", "intent": "greet"}\n{"intent": "greet"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"eval.jsonl:2"):
        load_eval_file(path, known_labels={"greet"})


def test_out_of_scope_with_fallback_counts_an_abstention_as_out_of_scope() -> None:
    rows = [GoldRow("a", "out_of_scope", ()), GoldRow("b", "out_of_scope", ()), GoldRow("c", "greet", ())]
    predictions = [Prediction("nlu_fallback", ()), Prediction("faq/wifi", ()), Prediction("nlu_fallback", ())]
    result = score(rows, predictions)
    assert result["out_of_scope"] == {"precision": 0.0, "recall": 0.0, "support": 2.0}
    assert result["out_of_scope_with_fallback"] == {"precision": 0.5, "recall": 0.5, "support": 2.0}


def test_an_entity_named_twice_in_a_row_counts_once() -> None:
    rows = [GoldRow("花果园花果园", "inform", (("store", "gy-hgy-car"),))]
    predictions = [Prediction("inform", (("store", "gy-hgy-car"), ("store", "gy-hgy-car")))]
    assert score(rows, predictions)["entities"]["store"]["precision"] == 1.0
