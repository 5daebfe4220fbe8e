"""The hub's own CPU per message, without Rasa: `ConversationHub.handle()` with Rasa answered in memory.

20 concurrent anonymous customers x 15 messages on a fresh seeded SQLite CRM, with the web delivery registered and
the hub's broker, delivery loop and sweeper running as in the API. CPU is the whole process's (`time.process_time`:
the event loop and the database worker threads) over the measured messages. `make bench` measures the full stack,
where the hub's share of a message is small and noisy on a shared machine; this isolates it.

    PYTHONPATH=. .venvs/app/bin/python -m bench.hub_cpu [--customers 20] [--turns 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy.orm import sessionmaker

from api.channels.widget import CHANNEL, WebChatDelivery
from api.hub.conversation_hub import ConversationHub, InboundMessage
from api.hub.rasa_client import RasaClient
from api.hub.rasa_replicas import RasaReplica, RasaReplicas
from crm.db import make_engine
from stack.database import prepare_database

WARMUP_MESSAGES = 3


def _rasa_in_memory() -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        reply = {
            "recipient_id": body["sender"],
            "text": "您好，我是小悦，请问有什么可以帮您？",
            "buttons": [{"title": "查订单", "payload": "/order_status"}],
        }
        return httpx.Response(200, json=[reply])

    return httpx.MockTransport(answer)


async def measure(customers: int, turns: int) -> tuple[float, float]:
    """(CPU ms per message, wall ms per message)."""
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='hub-cpu-')) / 'crm.db'}"
    prepare_database(url)
    engine = make_engine(url)
    async with httpx.AsyncClient(transport=_rasa_in_memory()) as http:

        async def alive() -> bool:
            return True

        hub = ConversationHub(
            sessionmaker(engine, expire_on_commit=False),
            RasaReplicas([RasaReplica("rasa", RasaClient(http, "http://rasa.internal", 5.0), alive)]),
            reply_wait_seconds=5.0,
        )
        hub.register_delivery(CHANNEL, WebChatDelivery(), push=False)
        await hub.start()
        try:
            for n in range(WARMUP_MESSAGES):
                await hub.handle(InboundMessage(channel=CHANNEL, channel_user_id=f"anon:warm{n}", text="你好"))
            wall, cpu = time.perf_counter(), time.process_time()

            async def customer(number: int) -> None:
                for turn in range(turns):
                    await hub.handle(
                        InboundMessage(
                            channel=CHANNEL,
                            channel_user_id=f"anon:c{number}",
                            text=f"第{turn}条消息",
                            client_message_id=f"{number}-{turn}",
                        )
                    )

            await asyncio.gather(*(customer(number) for number in range(customers)))
            messages = customers * turns
            return (
                1000 * (time.process_time() - cpu) / messages,
                1000 * (time.perf_counter() - wall) / messages,
            )
        finally:
            await hub.stop()
            engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--turns", type=int, default=15)
    args = parser.parse_args(argv)
    cpu_ms, wall_ms = asyncio.run(measure(args.customers, args.turns))
    sys.stdout.write(
        f"hub without Rasa: {args.customers} customers x {args.turns} messages: "
        f"CPU {cpu_ms:.2f} ms per message, wall {wall_ms:.2f} ms per message\n"
    )


if __name__ == "__main__":
    main()
