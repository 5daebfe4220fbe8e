"""Turns stored outbound messages into what a WeChat user can read: text only, buttons as numbered choices,
split at WeChat's size limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api.channels.wechat.texts import wechat_text
from crm.schemas import MessageOut

# Text messages (passive replies and 客服消息) are limited to 2048 bytes of UTF-8.
MAX_TEXT_BYTES = 2048


@dataclass(frozen=True)
class Rendered:
    """The texts to send per message id (each within MAX_TEXT_BYTES) and the choices the numbers stand for."""

    texts_by_message: list[tuple[int, list[str]]]
    choices: list[dict[str, str]]

    @property
    def texts(self) -> list[str]:
        return [text for _, texts in self.texts_by_message for text in texts]


def render_batch(messages: Sequence[MessageOut]) -> Rendered:
    """Every button in the batch gets a number (1, 2, ...) the customer can answer with."""
    parts: list[tuple[int, list[str]]] = []
    choices: list[dict[str, str]] = []
    for message in messages:
        lines = [message.text] if message.text else []
        payload = message.payload or {}
        buttons = [b for b in payload.get("buttons") or [] if isinstance(b, dict) and b.get("title")]
        if buttons:
            lines.append(wechat_text("choices_header"))
            for button in buttons:
                choices.append({"title": str(button["title"]), "payload": str(button.get("payload") or "")})
                lines.append(wechat_text("choice_line", number=len(choices), title=button["title"]))
        if payload.get("image"):
            lines.append(str(payload["image"]))
        if lines:
            parts.append((message.id, split_text("\n".join(lines))))
    return Rendered(texts_by_message=parts, choices=choices)


def join_for_one_reply(texts: Sequence[str]) -> str | None:
    """All texts as one passive reply, or None when they do not fit in one message."""
    joined = "\n\n".join(texts)
    return joined if len(joined.encode()) <= MAX_TEXT_BYTES else None


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> list[str]:
    """Splits at line breaks where possible, else at character boundaries, into pieces of at most `limit` bytes."""
    if len(text.encode()) <= limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if len((current + line).encode()) <= limit:
            current += line
            continue
        if current:
            chunks.append(current.rstrip("\n"))
            current = ""
        while len(line.encode()) > limit:
            cut = _prefix_within(line, limit)
            chunks.append(line[:cut])
            line = line[cut:]
        current = line
    if current.strip():
        chunks.append(current.rstrip("\n"))
    return chunks


def _prefix_within(text: str, limit: int) -> int:
    """The longest prefix length of `text` whose UTF-8 encoding fits in `limit` bytes."""
    size = 0
    for index, char in enumerate(text):
        size += len(char.encode())
        if size > limit:
            return index
    return len(text)
