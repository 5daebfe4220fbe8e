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


def test_think_times_and_arrivals_follow_the_mean_without_changing_the_texts() -> None:
    back_to_back = build_customers(load_scenarios(), ORDERS, customers=4, turns=8, seed=3, run_id="a")
    chatting = build_customers(load_scenarios(), ORDERS, customers=4, turns=8, seed=3, run_id="a", think_mean=2.0)
    assert [[t.text for t in c.turns] for c in back_to_back] == [[t.text for t in c.turns] for c in chatting]
    assert all(t.think_after == 0.0 for c in back_to_back for t in c.turns)
    assert all(c.start_delay == 0.0 for c in back_to_back)
    thinks = [t.think_after for c in chatting for t in c.turns]
    assert all(1.0 <= t <= 3.0 for t in thinks) and len(set(thinks)) == len(thinks)
    assert all(0.0 <= c.start_delay <= 2.0 for c in chatting)
    assert len({c.start_delay for c in chatting}) == len(chatting)
