"""The hub's spreading of conversations over Rasa replicas: sticky, fails over only when nothing was sent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from api.hub.rasa_client import RasaClient, RasaNotReachedError, RasaUnavailableError
from api.hub.rasa_replicas import ActionServerDownError, RasaReplica, RasaReplicas

HOSTS = ["rasa-a", "rasa-b", "rasa-c"]


class FakeRasas:
    """A MockTransport playing several Rasa servers: some refuse connections, some time out."""

    def __init__(self) -> None:
        self.refusing: set[str] = set()
        self.timing_out: set[str] = set()
        self.silent: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        sender = httpx.Response(200, content=request.content).json()["sender"]
        if host in self.refusing:
            raise httpx.ConnectError("Connection refused", request=request)
        self.calls.append((host, sender))
        if host in self.timing_out:
            raise httpx.ReadTimeout("timed out", request=request)
        if host in self.silent:
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=[{"recipient_id": sender, "text": f"answer from {host}"}])


@pytest.fixture
def rasas() -> FakeRasas:
    return FakeRasas()


@pytest.fixture
def http(rasas: FakeRasas) -> Iterator[httpx.AsyncClient]:
    yield httpx.AsyncClient(transport=httpx.MockTransport(rasas))


def replicas(http: httpx.AsyncClient, hosts: list[str], dead_actions: frozenset[str] = frozenset()) -> RasaReplicas:
    def alive(host: str):  # type: ignore[no-untyped-def]
        async def check() -> bool:
            return host not in dead_actions

        return check

    return RasaReplicas(
        [RasaReplica(host, RasaClient(http, f"http://{host}:5005", 1.0), alive(host)) for host in hosts]
    )


async def ask(pool: RasaReplicas, sender: str) -> str:
    [reply] = await pool.send(sender_id=sender, message="你好", metadata={})
    return reply.text.removeprefix("answer from ")


async def test_each_conversation_sticks_to_one_replica_and_they_spread(http: httpx.AsyncClient) -> None:
    pool = replicas(http, HOSTS)
    first = {f"web-{n}": await ask(pool, f"web-{n}") for n in range(90)}
    again = {sender: await ask(pool, sender) for sender in first}
    assert again == first
    spread = Counter(first.values())
    assert set(spread) == set(HOSTS)
    assert min(spread.values()) >= 15  # 90 conversations, three replicas: none starved


async def test_losing_a_replica_moves_only_its_conversations(http: httpx.AsyncClient) -> None:
    before = {f"web-{n}": await ask(replicas(http, HOSTS), f"web-{n}") for n in range(60)}
    after = {sender: await ask(replicas(http, HOSTS[:2]), sender) for sender in before}
    moved = {sender for sender in before if before[sender] != after[sender]}
    assert moved == {sender for sender, host in before.items() if host == "rasa-c"}


async def test_a_refused_connection_goes_to_the_next_replica(http: httpx.AsyncClient, rasas: FakeRasas) -> None:
    pool = replicas(http, HOSTS)
    sender = "web-failover"
    home = await ask(pool, sender)
    rasas.refusing.add(home)
    stand_in = await ask(pool, sender)
    assert stand_in != home
    assert stand_in == pool.order_for(sender)[1].name
    rasas.refusing.clear()
    assert await ask(pool, sender) == home  # back home once it answers again


async def test_a_timeout_is_not_retried_elsewhere(http: httpx.AsyncClient, rasas: FakeRasas) -> None:
    """The first replica may still be running the turn: asking another would run it twice."""
    pool = replicas(http, HOSTS)
    sender = "web-slow"
    home = pool.order_for(sender)[0].name
    rasas.timing_out.add(home)
    with pytest.raises(RasaUnavailableError) as raised:
        await ask(pool, sender)
    assert not isinstance(raised.value, RasaNotReachedError)
    assert rasas.calls == [(home, sender)]


async def test_every_replica_refusing_is_unavailable(http: httpx.AsyncClient, rasas: FakeRasas) -> None:
    rasas.refusing.update(HOSTS)
    with pytest.raises(RasaNotReachedError, match="no Rasa replica could take the message"):
        await ask(replicas(http, HOSTS), "web-alone")


async def test_a_replica_whose_action_server_is_down_is_passed_before_it_sees_the_message(
    http: httpx.AsyncClient, rasas: FakeRasas
) -> None:
    sender = "web-degraded"
    home, stand_in = (replica.name for replica in replicas(http, HOSTS).order_for(sender)[:2])
    assert await ask(replicas(http, HOSTS, dead_actions=frozenset({home})), sender) == stand_in
    assert rasas.calls == [(stand_in, sender)]
    with pytest.raises(RasaNotReachedError, match="action server down"):
        await ask(replicas(http, HOSTS, dead_actions=frozenset(HOSTS)), sender)
    assert rasas.calls == [(stand_in, sender)]


async def test_an_empty_answer_or_an_action_server_lost_during_the_turn_is_not_trusted(
    http: httpx.AsyncClient, rasas: FakeRasas
) -> None:
    sender = "web-broken"
    pool = replicas(http, HOSTS)
    home = pool.order_for(sender)[0].name
    rasas.silent.add(home)
    with pytest.raises(ActionServerDownError):
        await ask(pool, sender)
    rasas.silent.clear()

    answers = iter([True, False])  # up when asked before the turn, gone after it

    async def dies_during_the_turn() -> bool:
        return next(answers)

    flaky = RasaReplicas([RasaReplica(home, RasaClient(http, f"http://{home}:5005", 1.0), dies_during_the_turn)])
    with pytest.raises(ActionServerDownError):
        await ask(flaky, sender)


def test_a_pool_needs_a_replica() -> None:
    with pytest.raises(ValueError):
        RasaReplicas([])
