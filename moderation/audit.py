"""The audit log as the services see it: a record type and the protocol ``db.audit.AuditLog``
implements (moderation and quota changes, refusals, output-check actions all go there)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class RefusalReason(enum.StrEnum):
    """Why a request was refused, as the audit log's ``code`` records it beside the sentence the
    member was told: named where the refusal is decided (the gate here, ``quota.policy`` for
    quotas), so `/stats` never has to read the wording."""

    MINORS = "minors"
    SEXUAL = "sexual"
    BLOCKED_TAGS = "blocked_tags"
    RATING = "rating"
    INVALID = "invalid"
    DAILY_QUOTA = "daily_quota"
    SERVER_BUDGET = "server_budget"
    TOO_MANY_JOBS = "too_many_jobs"
    COOLDOWN = "cooldown"
    BLOCKED_MEMBER = "blocked_member"
    OTHER_QUOTA = "other_quota"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    kind: str
    guild_id: int | None
    channel_id: int | None
    user_id: int
    decision: str
    reason: str
    prompt: str
    rating: str | None
    details: dict[str, Any]
    created_at: datetime
    code: str | None = None  # a RefusalReason for a refusal; None before migration 0008


class AuditTrail(Protocol):
    async def record(
        self,
        kind: str,
        *,
        user_id: int,
        guild_id: int | None,
        channel_id: int | None,
        decision: str,
        reason: str = "",
        prompt: str = "",
        rating: str | None = None,
        details: dict[str, Any] | None = None,
        code: str | None = None,
    ) -> int: ...

    async def recent(self, guild_id: int, limit: int = 10) -> list[AuditRecord]: ...
