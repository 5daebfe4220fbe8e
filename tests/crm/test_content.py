"""crm.services.content and its checks: documents as versions, overrides for training, locking (also the
race between two writers on PostgreSQL), and the validation rules over a set of documents."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import ContentVersion
from crm.services import content, content_checks
from crm.services.content import (
    ContentConflictError,
    ContentNotFoundError,
    InvalidContentError,
    StaleVersionError,
)

STORIES = "data/stories/basics.yml"


def no_checks(session: Session, documents: dict[str, str]) -> None:
    """These tests are about versions, not about validation."""


def test_repository_file_is_version_zero_until_ops_saves(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        document = content.read(session, STORIES)
        assert (document.version, document.text) == (0, content.repository_text(STORIES))
        assert content.current_overrides(session) == {}
        saved = content.save(
            session, STORIES, document.text + "# note\n", base_version=0, author="ops", summary="s", validate=no_checks
        )
        assert (saved.number, saved.base_number) == (1, 0)
        assert "+# note" in saved.diff
    with blank_sessionmaker() as session:
        assert content.read(session, STORIES).version == 1
        assert content.current_overrides(session) == {STORIES: content.repository_text(STORIES) + "# note\n"}
        assert [v.number for v in content.versions(session, STORIES)] == [1]


def test_new_documents_start_empty_and_paths_outside_the_training_data_are_refused(
    blank_sessionmaker: sessionmaker[Session],
) -> None:
    with blank_sessionmaker() as session:
        assert content.read(session, "data/nlu/ops.yml") == content.Document("data/nlu/ops.yml", 0, "")
        for path in ("data/../core/settings.py", "/etc/passwd", "config.yml", "data/nlu/x.py"):
            with pytest.raises(ContentNotFoundError):
                content.read(session, path)


def test_stale_base_reports_what_changed(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        text = content.read(session, STORIES).text
        content.save(session, STORIES, text + "# theirs\n", base_version=0, author="a", summary="", validate=no_checks)
    with blank_sessionmaker.begin() as session, pytest.raises(StaleVersionError) as raised:
        content.save(session, STORIES, text + "# mine\n", base_version=0, author="b", summary="", validate=no_checks)
    assert raised.value.current_version == 1
    assert "+# theirs" in raised.value.changes
    assert "（a 于" in raised.value.message


def test_two_writers_from_one_base_cannot_both_land(blank_sessionmaker: sessionmaker[Session], backend: str) -> None:
    """The unique (path, number) is the lock: a save that passed the version check while another landed
    is refused. (SQLite serialises writers up front, so the race only exists on PostgreSQL.)"""
    if backend != "postgresql":
        pytest.skip("SQLite takes the write lock at BEGIN: two writers never interleave")
    base = content.repository_text(STORIES)

    def other_writer_lands_meanwhile(session: Session, documents: dict[str, str]) -> None:
        with blank_sessionmaker.begin() as other:
            content.save(other, STORIES, base + "# first\n", base_version=0, author="a", summary="", validate=no_checks)

    with pytest.raises(ContentConflictError), blank_sessionmaker.begin() as session:
        content.save(
            session,
            STORIES,
            base + "# second\n",
            base_version=0,
            author="b",
            summary="",
            validate=other_writer_lands_meanwhile,
        )
    with blank_sessionmaker() as session:
        rows = session.scalars(select(ContentVersion)).all()
        assert [(row.number, row.author) for row in rows] == [(1, "a")]


def test_restore_makes_an_old_text_current_as_a_new_version(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        original = content.read(session, STORIES).text
        content.save(session, STORIES, original + "# a\n", base_version=0, author="ops", summary="", validate=no_checks)
        restored = content.save(
            session,
            STORIES,
            content.version_text(session, STORIES, 0),
            base_version=1,
            author="ops",
            summary="r",
            validate=no_checks,
        )
        assert restored.number == 2
        assert content.read(session, STORIES).text == original
        assert content.diff(session, STORIES, 0, 2) == ""
        with pytest.raises(ContentNotFoundError):
            content.version_text(session, STORIES, 7)


# ---- checks over a set of documents ---------------------------------------------------------------------


def _documents(session: Session) -> dict[str, str]:
    return {path: document.text for path, document in content.all_documents(session).items()}


def test_repository_data_passes_the_checks(seeded_session: Session) -> None:
    content_checks.check_all(seeded_session, _documents(seeded_session))


@pytest.mark.parametrize(
    ("path", "append", "code"),
    [
        (STORIES, "\n  - story: x\n    steps:\n      - intent: greet\n      - action: action_nope\n", "unknown_action"),
        (STORIES, "\n  - story: x\n    steps:\n      - or:\n          - intent: nope\n", "unknown_step_intent"),
        (
            "data/rules/basics.yml",
            "\n  - rule: x\n    condition:\n      - active_loop: nope_form\n    steps: []\n",
            "unknown_form",
        ),
        ("data/nlu/basics.yml", "\n  - intent: thank\n    examples: |\n      - 你好\n", "example_in_other_intent"),
        ("data/nlu/basics.yml", "\n  - intent: faq/flying\n    examples: |\n      - 能飞吗\n", "faq_without_answer"),
        ("data/nlu/basics.yml", "\n  - intent: sing\n    examples: |\n      - 唱首歌\n", "unknown_intent"),
        (STORIES, "\n  - story: [broken\n", "invalid_yaml"),
    ],
)
def test_checks_refuse_with_a_code_that_points_at_the_problem(
    seeded_session: Session, path: str, append: str, code: str
) -> None:
    documents = _documents(seeded_session)
    documents[path] = documents[path] + append
    with pytest.raises(InvalidContentError) as raised:
        content_checks.check_all(seeded_session, documents)
    assert raised.value.code == code


def test_duplicate_examples_compare_as_typed(seeded_session: Session) -> None:
    """Entity annotations, full-width letters, case and spaces do not make a different example."""
    assert content_checks.plain_example('[洗车店]{"entity": "business"}几点开') == "洗车店几点开"
    assert content_checks.plain_example(" ＨＩ  小悦 ") == content_checks.plain_example("hi 小悦")


def test_wording_variables_must_be_known(seeded_session: Session) -> None:
    documents = _documents(seeded_session)
    documents["domain.yml"] = documents["domain.yml"].replace(
        '"感谢您的咨询，祝您生活愉快，再见～"', '"再见 {order_id} {favourite_colour}"', 1
    )
    with pytest.raises(InvalidContentError) as raised:
        content_checks.check_all(seeded_session, documents)
    assert raised.value.code == "unknown_variable"
    assert "favourite_colour" in raised.value.message and "utter_goodbye" in raised.value.message


@pytest.mark.parametrize(
    "path", ["data/nlu/sub/x.yml", "data/nlu/.hidden.yml", "data\\nlu\\x.yml", "data/nlu/a b.yml", "domain.yml/x"]
)
def test_only_plain_names_directly_in_the_training_folders_are_editable(path: str) -> None:
    assert not content.is_editable(path)
    assert content.is_editable("data/nlu/ops.yml") and content.is_editable("tests/stories/test_reviewed.yml")
