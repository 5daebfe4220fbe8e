"""Simulated customers' scripts (bench/scripts.py): deterministic, exact length, real order data filled in."""

from __future__ import annotations

from bench.scripts import build_customers, load_scenarios

ORDERS = [("DD202601010001", "13800000001"), ("DD202601010002", "13800000002")]


def test_every_customer_gets_exactly_the_turns_asked_for_with_order_data_filled_in() -> None:
    customers = build_customers(
        load_scenarios(), ORDERS, customers=8, turns=10, seed=1, run_id="t", web_user_ids=["demo-gold"]
    )
    assert len(customers) == 8 and len({c.user_id for c in customers}) == 8
    assert all(len(c.turns) == 10 for c in customers)
    texts = [t.text for c in customers for t in c.turns]
    assert not any("{" in text for text in texts)
    order_turns = [t.text for c in customers for t in c.turns if t.episode.startswith("order_lookup")]
    assert order_turns and any(number in text for text in order_turns for number, _ in ORDERS)
    assert [c.web_user_id for c in customers] == [None, None, None, "demo-gold"] * 2


def test_scripts_are_reproducible_from_the_seed() -> None:
    first = build_customers(load_scenarios(), ORDERS, customers=3, turns=6, seed=5, run_id="a")
    again = build_customers(load_scenarios(), ORDERS, customers=3, turns=6, seed=5, run_id="a")
    assert first == again
    other = build_customers(load_scenarios(), ORDERS, customers=3, turns=6, seed=6, run_id="a")
    assert [c.turns for c in first] != [c.turns for c in other]
