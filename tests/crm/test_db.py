from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from crm.db import busy_timeout_ms, make_engine
from crm.models import Conversation


def test_sqlite_connections_enable_foreign_keys_wal_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert connection.execute(text("PRAGMA busy_timeout")).scalar_one() == busy_timeout_ms()
    finally:
        engine.dispose()


def test_timestamps_come_back_timezone_aware_in_utc(blank_engine: Engine) -> None:
    shanghai = timezone(timedelta(hours=8))
    started = datetime(2026, 11, 20, 9, 30, tzinfo=shanghai)
    with sessionmaker(blank_engine).begin() as session:
        session.add(
            Conversation(channel="web", channel_user_id="tz-user", rasa_sender_id="web:tz-user:1", started_at=started)
        )
    with Session(blank_engine) as session:
        stored = session.scalars(select(Conversation.started_at)).one()
    assert stored == started
    assert stored.tzinfo == timezone.utc
    assert stored.hour == 1


def test_naive_datetimes_are_refused(blank_engine: Engine) -> None:
    with Session(blank_engine) as session:
        session.add(
            Conversation(
                channel="web",
                channel_user_id="naive",
                rasa_sender_id="web:naive:1",
                started_at=datetime(2026, 1, 1),
            )
        )
        with pytest.raises(Exception, match="naive datetime"):
            session.flush()


def test_read_only_sessions_read_while_a_writer_holds_the_database_and_refuse_to_write(blank_engine: Engine) -> None:
    url = blank_engine.url.render_as_string(hide_password=False)
    with sessionmaker(blank_engine).begin() as session:
        session.add(Conversation(channel="web", channel_user_id="ro", rasa_sender_id="web:ro:1"))
    reader = make_engine(url, read_only=True)
    try:
        with Session(blank_engine) as writer, writer.begin():  # holds SQLite's write lock until the end
            writer.add(Conversation(channel="web", channel_user_id="ro-2", rasa_sender_id="web:ro:2"))
            writer.flush()
            with Session(reader) as session, session.begin():
                # a snapshot without the uncommitted row, at once (a locking read would wait 15 s and fail)
                assert session.scalars(select(Conversation.channel_user_id)).all() == ["ro"]
        with Session(reader) as session, session.begin():
            session.add(Conversation(channel="web", channel_user_id="ro-3", rasa_sender_id="web:ro:3"))
            with pytest.raises(DBAPIError, match=r"(?i)read-?only"):
                session.flush()
    finally:
        reader.dispose()
