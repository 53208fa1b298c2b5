"""Moderation settings in the database, cached per server so checks cost no query.

The cache is per process and dropped for a server whenever this store changes it; a second
bot process (sharding) would need a shared invalidation, noted for the scale path.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import upsert_insert
from db.models import BlockedTag, ChannelPolicy, GuildPolicy, utcnow
from moderation.policy import GuildSettings, OverLimitAction, PolicySettings
from prompt.ratings import Rating


def _settings(row: GuildPolicy | ChannelPolicy | None) -> PolicySettings:
    if row is None:
        return PolicySettings()
    return PolicySettings(
        max_rating=Rating(row.max_rating) if row.max_rating is not None else None,
        default_rating=Rating(row.default_rating) if row.default_rating is not None else None,
        over_limit_action=OverLimitAction(row.over_limit_action) if row.over_limit_action else None,
    )


class PolicyStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cache: dict[int, GuildSettings] = {}
        self._versions: dict[int, int] = {}
        # One read per server at a time: a burst of requests in a server not cached yet waits
        # for the same read instead of sending one each.
        self._loading: dict[int, tuple[int, asyncio.Future[GuildSettings]]] = {}

    async def guild(self, guild_id: int) -> GuildSettings:
        cached = self._cache.get(guild_id)
        if cached is not None:
            return cached
        version = self._versions.get(guild_id, 0)
        loading = self._loading.get(guild_id)
        if loading is None or loading[0] != version:
            loading = (version, asyncio.ensure_future(self._load(guild_id, version)))
            self._loading[guild_id] = loading
            loading[1].add_done_callback(lambda _: self._forget_load(guild_id, loading))
        return await asyncio.shield(loading[1])

    def _forget_load(self, guild_id: int, loading: tuple[int, asyncio.Future[GuildSettings]]) -> None:
        if self._loading.get(guild_id) is loading:
            del self._loading[guild_id]

    async def _load(self, guild_id: int, version: int) -> GuildSettings:
        # A change committed while this read runs bumps the version; the stale snapshot is
        # then returned to this caller but not cached, so the change cannot be lost.
        async with self._sessions() as session:
            server = await session.get(GuildPolicy, guild_id)
            channels = (await session.scalars(select(ChannelPolicy).where(ChannelPolicy.guild_id == guild_id))).all()
            blocked = (await session.scalars(select(BlockedTag).where(BlockedTag.guild_id == guild_id))).all()
        blocklist: dict[int, set[str]] = {}
        for entry in blocked:
            blocklist.setdefault(entry.channel_id, set()).add(entry.tag)
        settings = GuildSettings(
            server=_settings(server),
            channels={row.channel_id: _settings(row) for row in channels},
            modlog_channel_id=server.modlog_channel_id if server is not None else None,
            blocklist={k: frozenset(v) for k, v in blocklist.items()},
        )
        if self._versions.get(guild_id, 0) == version:
            self._cache[guild_id] = settings
        return settings

    def _changed(self, guild_id: int) -> None:
        self._versions[guild_id] = self._versions.get(guild_id, 0) + 1
        self._cache.pop(guild_id, None)

    async def set_server(self, guild_id: int, **values: object) -> None:
        """Set server columns (max_rating, default_rating, over_limit_action, modlog_channel_id)."""
        async with self._sessions.begin() as session:
            stmt = upsert_insert(session, GuildPolicy).values(guild_id=guild_id, updated_at=utcnow(), **values)
            await session.execute(
                stmt.on_conflict_do_update(index_elements=["guild_id"], set_={**values, "updated_at": utcnow()})
            )
        self._changed(guild_id)

    async def set_channel(self, guild_id: int, channel_id: int, **values: object) -> None:
        async with self._sessions.begin() as session:
            stmt = upsert_insert(session, ChannelPolicy).values(
                channel_id=channel_id, guild_id=guild_id, updated_at=utcnow(), **values
            )
            await session.execute(
                stmt.on_conflict_do_update(index_elements=["channel_id"], set_={**values, "updated_at": utcnow()})
            )
        self._changed(guild_id)

    async def block(self, guild_id: int, channel_id: int, tag: str, added_by: int) -> bool:
        """Add a tag; False if it was already blocked in that scope."""
        async with self._sessions.begin() as session:
            stmt = upsert_insert(session, BlockedTag).values(
                guild_id=guild_id, channel_id=channel_id, tag=tag, added_by=added_by, created_at=utcnow()
            )
            result = await session.execute(stmt.on_conflict_do_nothing())
        self._changed(guild_id)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def unblock(self, guild_id: int, channel_id: int, tag: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(BlockedTag).where(
                    BlockedTag.guild_id == guild_id, BlockedTag.channel_id == channel_id, BlockedTag.tag == tag
                )
            )
        self._changed(guild_id)
        return bool(result.rowcount)  # type: ignore[attr-defined]
