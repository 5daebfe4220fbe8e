"""Canned replies for the agent console, per business: policy/canned_replies.yml, validated at load."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from crm.policy import cached_policy, load_policy


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CannedReply(_Strict):
    title: str = Field(min_length=1, max_length=20)
    text: str = Field(min_length=1, max_length=2000)


class CannedReplies(_Strict):
    common: list[CannedReply] = Field(default_factory=list)
    businesses: dict[str, list[CannedReply]] = Field(default_factory=dict)

    def for_business(self, business_code: str | None) -> list[CannedReply]:
        """The replies for a conversation about `business_code` (None: the common ones only)."""
        specific = self.businesses.get(business_code, []) if business_code else []
        return [*specific, *self.common]


@cached_policy("canned_replies.yml")
def load_canned_replies(directory: Path | None = None) -> CannedReplies:
    """policy/canned_replies.yml, validated (crm.policy.PolicyError naming the file and line otherwise)."""
    return load_policy("canned_replies.yml", CannedReplies, directory=directory)
