"""What Rasa and the action server agree on about a call, imported by both envs (no dependencies).

Rasa stamps every call to the action server with the wall-clock time it sent it (bot/action_timeout.py),
so the action server measures its commit deadline from the moment Rasa started waiting, not from the
moment it got round to the request: a request that sat in a paused or overloaded action server's socket
is already late when it is read (actions/server.py). Hosts must keep their clocks in sync (NTP).
"""

from __future__ import annotations

SENT_AT_HEADER = "X-Sent-At"


def seconds_since_sent(header: str | None, now: float) -> float:
    """How long ago Rasa sent the call (0 without a usable header; a clock ahead of ours counts as 0)."""
    try:
        sent_at = float(header or "")
    except ValueError:
        return 0.0
    if sent_at != sent_at or sent_at in (float("inf"), float("-inf")):  # NaN or infinite
        return 0.0
    return max(now - sent_at, 0.0)
