"""What the quota services need of storage, as a protocol; ``db.quotas.QuotaStore`` implements
it. (A protocol, so quota never imports the database layer, which depends on it.)"""

from __future__ import annotations

from typing import Protocol

from core.config import QuotaConfig
from quota.policy import LimitKind, QuotaAsk, QuotaOverrides, QuotaStatus


class QuotaStore(Protocol):
    @property
    def config(self) -> QuotaConfig: ...

    async def status(self, ask: QuotaAsk) -> QuotaStatus: ...

    async def overrides(self, guild_id: int | None) -> QuotaOverrides: ...

    async def set_limit(
        self, guild_id: int, kind: LimitKind, target_id: int, daily: int | None, *, by: int
    ) -> None: ...

    async def reset_user(self, guild_id: int, user_id: int) -> None: ...

    async def block(self, guild_id: int, user_id: int, reason: str, *, by: int) -> None: ...

    async def unblock(self, guild_id: int, user_id: int) -> bool: ...
