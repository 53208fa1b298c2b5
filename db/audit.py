"""The audit log: every request, refusal, policy change and output-check event."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AuditEntry
from moderation.audit import AuditRecord


class AuditLog:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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
    ) -> int:
        # One INSERT ... RETURNING, without the ORM's unit of work: every request writes one.
        values = {
            "kind": kind,
            "user_id": user_id,
            "guild_id": guild_id,
            "channel_id": channel_id,
            "decision": decision,
            "reason": reason,
            "prompt": prompt,
            "rating": rating,
            "details": json.dumps(details or {}, sort_keys=True),
            "code": code,
        }
        async with self._sessions.begin() as session:
            return int(await session.scalar(insert(AuditEntry).values(**values).returning(AuditEntry.id)) or 0)

    async def recent(self, guild_id: int, limit: int = 10) -> list[AuditRecord]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AuditEntry).where(AuditEntry.guild_id == guild_id).order_by(AuditEntry.id.desc()).limit(limit)
            )
            return [
                AuditRecord(
                    id=r.id,
                    kind=r.kind,
                    guild_id=r.guild_id,
                    channel_id=r.channel_id,
                    user_id=r.user_id,
                    decision=r.decision,
                    reason=r.reason,
                    prompt=r.prompt,
                    rating=r.rating,
                    details=json.loads(r.details),
                    created_at=r.created_at,
                    code=r.code,
                )
                for r in rows
            ]
