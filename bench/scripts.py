"""Simulated customers' scripts from bench/scenarios.yml. No HTTP: used in both envs."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SCENARIOS_PATH = Path(__file__).with_name("scenarios.yml")


@dataclass(frozen=True)
class Turn:
    episode: str
    text: str
    think_after: float = 0.0  # seconds the customer reads and types after this turn's reply


@dataclass(frozen=True)
class Customer:
    user_id: str
    turns: list[Turn]
    web_user_id: str | None = None  # a demo customer the widget identifies (full stack only)
    start_delay: float = 0.0  # when the customer arrives, after the load starts


def think_time(rng: random.Random, mean_seconds: float) -> float:
    """A think time drawn uniformly from [0.5, 1.5] x the mean (0 when the mean is 0: back-to-back turns)."""
    return rng.uniform(0.5 * mean_seconds, 1.5 * mean_seconds) if mean_seconds > 0 else 0.0


def load_scenarios(path: Path = SCENARIOS_PATH) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def build_customers(
    scenarios: dict[str, Any],
    orders: list[tuple[str, str]],
    *,
    customers: int,
    turns: int,
    seed: int,
    run_id: str,
    web_user_ids: list[str] | None = None,
    identified_every: int = 4,
    think_mean: float = 0.0,
) -> list[Customer]:
    """Deterministic scripts: weighted episodes until each customer has exactly `turns` turns.

    `orders` are (order_number, owner mobile) pairs from the CRM; every `identified_every`-th customer
    chats as one of `web_user_ids` (when given). With `think_mean` > 0 each turn is followed by a think
    time and customers arrive spread over one mean think time; with 0 they all start at once and send
    back to back (a saturation load).
    """
    if not orders:
        raise ValueError("no orders to look up")
    rng = random.Random(seed)
    timing = random.Random(f"{seed}-timing")  # its own stream: the texts do not depend on the think time
    episodes = scenarios["episodes"]
    weights = [e["weight"] for e in episodes]
    result = []
    for index in range(customers):
        script: list[Turn] = []
        while len(script) < turns:
            episode = rng.choices(episodes, weights=weights)[0]
            order_number, mobile = rng.choice(orders)
            for step in episode["turns"]:
                template = rng.choice(step["pick"]) if "pick" in step else step["fixed"]
                text = template.format(order_number=order_number, mobile=mobile)
                script.append(Turn(episode["name"], text, think_time(timing, think_mean)))
        identified = web_user_ids and identified_every and index % identified_every == identified_every - 1
        result.append(
            Customer(
                user_id=f"bench-{run_id}-{index:03d}",
                turns=script[:turns],
                web_user_id=web_user_ids[index // identified_every % len(web_user_ids)] if identified else None,
                start_delay=timing.uniform(0.0, think_mean),
            )
        )
    return result
