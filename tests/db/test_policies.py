from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncEngine

from db.audit import AuditLog
from db.engine import create_sessionmaker
from db.policies import PolicyStore
from moderation.policy import SERVER_WIDE, OverLimitAction, PolicySettings
from prompt.ratings import Rating

GUILD, CHANNEL, THREAD = 111, 222, 333


async def test_settings_round_trip_and_survive_a_new_store(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    store = PolicyStore(sessions)
    assert (await store.guild(GUILD)).server == PolicySettings()
    await store.set_server(GUILD, max_rating=int(Rating.SENSITIVE), modlog_channel_id=999)
    await store.set_channel(GUILD, CHANNEL, default_rating=int(Rating.SENSITIVE), over_limit_action="spoiler")
    await store.set_server(GUILD, default_rating=int(Rating.GENERAL))  # update keeps the other columns

    fresh = PolicyStore(sessions)  # a restarted bot
    settings = await fresh.guild(GUILD)
    assert settings.server == PolicySettings(max_rating=Rating.SENSITIVE, default_rating=Rating.GENERAL)
    assert settings.modlog_channel_id == 999
    assert settings.channel(CHANNEL) == PolicySettings(
        default_rating=Rating.SENSITIVE, over_limit_action=OverLimitAction.SPOILER
    )
    assert settings.channel(12345) == PolicySettings()


async def test_cache_is_used_and_dropped_on_change(engine: AsyncEngine) -> None:
    store = PolicyStore(create_sessionmaker(engine))
    first = await store.guild(GUILD)
    assert await store.guild(GUILD) is first  # cached: no query per keystroke
    await store.set_server(GUILD, max_rating=int(Rating.GENERAL))
    assert (await store.guild(GUILD)).server.max_rating is Rating.GENERAL


async def test_blocklist_scopes(engine: AsyncEngine) -> None:
    store = PolicyStore(create_sessionmaker(engine))
    assert await store.block(GUILD, SERVER_WIDE, "spider", added_by=1)
    assert not await store.block(GUILD, SERVER_WIDE, "spider", added_by=2)  # already there
    assert await store.block(GUILD, CHANNEL, "clown", added_by=1)
    settings = await store.guild(GUILD)
    assert settings.blocked_in(CHANNEL) == {"spider", "clown"}
    assert settings.blocked_in(THREAD, parent_id=CHANNEL) == {"spider", "clown"}
    assert settings.blocked_in(444) == {"spider"}
    assert await store.unblock(GUILD, CHANNEL, "clown")
    assert not await store.unblock(GUILD, CHANNEL, "clown")
    assert (await store.guild(GUILD)).blocked_in(CHANNEL) == {"spider"}


async def test_audit_log(engine: AsyncEngine) -> None:
    audit = AuditLog(create_sessionmaker(engine))
    await audit.record("refusal", user_id=5, guild_id=GUILD, channel_id=CHANNEL, decision="refused", reason="x")
    await audit.record(
        "policy", user_id=6, guild_id=GUILD, channel_id=None, decision="changed", details={"before": 1, "after": 2}
    )
    await audit.record("generation", user_id=7, guild_id=999, channel_id=1, decision="allowed")
    recent = await audit.recent(GUILD)
    assert [(r.kind, r.user_id) for r in recent] == [("policy", 6), ("refusal", 5)]
    assert recent[0].details == {"before": 1, "after": 2}


async def test_a_change_during_a_cache_miss_is_not_lost(engine: AsyncEngine) -> None:
    real = create_sessionmaker(engine)
    paused, release = asyncio.Event(), asyncio.Event()

    class SlowReads:
        """Reads wait until released; writes go straight through."""

        begin = staticmethod(real.begin)

        @contextlib.asynccontextmanager
        async def __call__(self):  # type: ignore[no-untyped-def]
            async with real() as session:
                yield session
                # The reader has its (old) snapshot and has not cached it yet, while a
                # moderator's change commits.
                paused.set()
                await release.wait()

    store = PolicyStore(SlowReads())  # type: ignore[arg-type]
    reading = asyncio.create_task(store.guild(GUILD))
    await paused.wait()
    await store.set_server(GUILD, max_rating=int(Rating.GENERAL))
    release.set()
    await reading
    assert (await store.guild(GUILD)).server.max_rating is Rating.GENERAL
