"""An audit trail that keeps what it is told in a list, for tests of what gets audited."""

from __future__ import annotations

from typing import Any

from moderation.audit import AuditRecord


class RecordingAudit:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    async def record(self, kind: str, **fields: Any) -> int:
        self.entries.append({"kind": kind, **fields})
        return len(self.entries)

    async def recent(self, guild_id: int, limit: int = 10) -> list[AuditRecord]:
        return []
