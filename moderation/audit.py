"""The audit log as the services see it: a record type and the protocol ``db.audit.AuditLog``
implements (moderation and quota changes, refusals, output-check actions all go there)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


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
    ) -> int: ...

    async def recent(self, guild_id: int, limit: int = 10) -> list[AuditRecord]: ...
