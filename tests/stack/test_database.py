"""stack/database.py: the tracker-store file Rasa will use is in WAL mode before Rasa opens it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from stack.database import prepare_tracker_database


def test_a_sqlite_tracker_store_file_is_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "var" / "tracker.db"
    prepare_tracker_database(f"sqlite:///{path}")
    prepare_tracker_database(f"sqlite:///{path}")  # a second start leaves it as it is
    with closing(sqlite3.connect(path)) as fresh_connection:  # the mode is stored in the file
        assert fresh_connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_other_databases_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: opened.append(args))
    prepare_tracker_database("postgresql://postgres@127.0.0.1:5432/test")
    prepare_tracker_database("sqlite://")  # in memory: nothing to keep
    assert opened == []
