"""Every conversation in conversations.yml, played through the real stack (API, Rasa, actions, CRM).

The ones the code does not get right yet are strict expected failures with the reason in the data file,
so a fixed conversation turns the suite red until its mark is removed: the recorded figure stays honest.
"""

from __future__ import annotations

import pytest

from tests.conversations.runner import Conversation, Player, load_conversations


def cases() -> list[object]:
    return [
        pytest.param(
            conversation,
            id=conversation.id,
            marks=[pytest.mark.xfail(reason=conversation.xfail, strict=True)] if conversation.xfail else [],
        )
        for conversation in load_conversations()
    ]


@pytest.mark.parametrize("conversation", cases())
def test_conversation(conversation: Conversation, conversation_player: Player) -> None:
    result = conversation_player.play(conversation)
    assert result.passed, result.explain()


def test_there_are_at_least_thirty_conversations_with_checks_that_can_fail() -> None:
    conversations = load_conversations()
    assert len(conversations) >= 30
    for conversation in conversations:
        assert conversation.turns, conversation.id
        for turn in conversation.turns:
            assert turn.expect, f"{conversation.id}: turn {turn.say!r} checks nothing"
