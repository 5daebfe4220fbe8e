"""Starts the full stack (the project's launcher) and a bare Rasa server on free ports under a temp dir."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench.scripts import Customer as ScriptedCustomer
from bench.scripts import build_customers, load_scenarios
from crm.models import Customer, Order
from stack.ephemeral import READY_TIMEOUT_SECONDS, EphemeralStack, free_port, start_ephemeral_stack
from stack.model import rasa_env
from stack.paths import RASA_BIN
from stack.processes import ProcessSpec, RunningProcess, start, stop_all, wait_until_ready

# The full stack is the project's own throwaway system (the one the e2e tests use).
FullStack = EphemeralStack
start_full_stack = start_ephemeral_stack

# Only the in-memory lock store; no action_endpoint (no custom action runs) and no tracker_store
# (Rasa's default: in memory).
BARE_ENDPOINTS = "lock_store:\n  type: in_memory\n"
# Rasa's plain REST channel: the baseline has no hub in front of it (the project's channel wants the hub's JWT).
BARE_CREDENTIALS = "rest:\n"


def start_bare_rasa(workdir: Path, model: Path, *, wait: bool = True) -> tuple[RunningProcess, str]:
    """`rasa run` with the same model, its REST channel, no action endpoint, in-memory tracker store."""
    workdir.mkdir(parents=True, exist_ok=True)
    endpoints = workdir / "bare_endpoints.yml"
    endpoints.write_text(BARE_ENDPOINTS, encoding="utf-8")
    credentials = workdir / "bare_credentials.yml"
    credentials.write_text(BARE_CREDENTIALS, encoding="utf-8")
    port = free_port()
    spec = ProcessSpec(
        name="bare_rasa",
        argv=[
            str(RASA_BIN / "rasa"),
            "run",
            "--enable-api",
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            str(model),
            "--endpoints",
            str(endpoints),
            "--credentials",
            str(credentials),
        ],
        health_url=f"http://127.0.0.1:{port}/status",
        env=rasa_env(),
    )
    process = start(spec, log_dir=workdir / "logs")
    if not wait:
        return process, f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, READY_TIMEOUT_SECONDS)
    except BaseException:
        stop_all([process])
        raise
    return process, f"http://127.0.0.1:{port}"


def orders_with_owner_mobiles(session_factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    """(order_number, owner's mobile) of every seeded order: what a customer would type to look one up."""
    with session_factory() as session:
        rows = session.execute(
            select(Order.order_number, Customer.mobile).join(Customer, Customer.id == Order.customer_id)
        ).all()
    return [(number, mobile) for number, mobile in rows]


def demo_web_user_ids(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as session:
        return sorted(session.scalars(select(Customer.web_user_id).where(Customer.web_user_id.is_not(None))))


def customer_scripts(
    stack: FullStack,
    *,
    customers: int,
    turns: int,
    seed: int,
    warmup_turns: int,
    loads: dict[str, float],
) -> tuple[dict[str, list[ScriptedCustomer]], list[ScriptedCustomer]]:
    """Per load name (mean think time as value), the customers' scripts; plus one warm-up customer.

    Every load gets the same texts under its own ids; the orders and demo identities are read once.
    """
    scenarios = load_scenarios()
    orders = orders_with_owner_mobiles(stack.session_factory)
    web_user_ids = demo_web_user_ids(stack.session_factory)
    run_id = uuid.uuid4().hex[:6]
    scripts = {
        name: build_customers(
            scenarios,
            orders,
            customers=customers,
            turns=turns,
            seed=seed,
            run_id=f"{run_id}-{name}",
            web_user_ids=web_user_ids,
            think_mean=think,
        )
        for name, think in loads.items()
    }
    warmup = build_customers(
        scenarios, orders, customers=1, turns=warmup_turns, seed=seed + 1, run_id=f"{run_id}-warmup"
    )
    return scripts, warmup
