"""wechat_inbound (WeChat's retry de-duplication) is pruned by the hub's sweeper after WECHAT_INBOUND_RETENTION_DAYS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from core.settings import Settings
from crm.models import WeChatInbound
from crm.types import utcnow
from tests.api.test_widget_channel import FakeRasa


@pytest.fixture
def client(seeded_sessionmaker: sessionmaker[Session]) -> Iterator[TestClient]:
    settings = Settings(rasa_url="http://rasa.internal:5005", wechat_inbound_retention_days=7)
    app = create_app(seeded_sessionmaker, settings, httpx.MockTransport(FakeRasa().handle))
    with TestClient(app) as test_client:
        yield test_client


def test_the_sweeper_prunes_claims_older_than_the_retention(
    client: TestClient, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    now = utcnow()
    with seeded_sessionmaker.begin() as session:
        session.add_all(
            [
                WeChatInbound(msg_key="old", openid="o-1", reply_mode="passive", received_at=now - timedelta(days=8)),
                WeChatInbound(msg_key="stuck", openid="o-1", reply_mode="pending", received_at=now - timedelta(days=9)),
                WeChatInbound(msg_key="recent", openid="o-1", reply_mode="push", received_at=now - timedelta(days=6)),
            ]
        )
    assert client.portal is not None
    client.portal.call(client.app.state.hub.sweep)  # type: ignore[attr-defined]
    with seeded_sessionmaker() as session:
        assert session.scalars(select(WeChatInbound.msg_key)).all() == ["recent"]


def test_the_retention_must_be_positive() -> None:
    with pytest.raises(ValueError, match="wechat_inbound_retention_days"):
        Settings(wechat_inbound_retention_days=0)
