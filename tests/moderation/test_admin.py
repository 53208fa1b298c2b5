"""ModerationAdmin on a real database (SQLite and PostgreSQL): it returns data, and every change
lands in the audit log with the reason and before/after details `/mod audit` has always shown."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.audit import AuditLog
from db.engine import create_sessionmaker
from db.policies import PolicyStore
from moderation.admin import (
    Actor,
    BlocklistChange,
    ModerationAdmin,
    ModerationOverview,
    ModlogChange,
    RatingChange,
    RatingReset,
)
from moderation.content import ContentFilter
from moderation.policy import OverLimitAction, PolicySettings
from prompt.ratings import Rating

GUILD, CHANNEL, ADMIN, MODLOG = 10, 20, 7, 99
ACTOR = Actor(user_id=ADMIN, guild_id=GUILD, channel_id=CHANNEL)
NOTHING_SET = "max `not set`, default `not set`, over-limit images: `not set`"


@pytest.fixture
async def parts(engine: AsyncEngine, content_filter: ContentFilter) -> tuple[ModerationAdmin, AuditLog]:
    sessions = create_sessionmaker(engine)
    audit = AuditLog(sessions)
    return ModerationAdmin(PolicyStore(sessions), audit, content_filter.canonicalize_entry), audit


async def _audited(audit: AuditLog) -> list[tuple[str, int | None, str, str, dict[str, Any]]]:
    """The audit entries, oldest first, as (kind, channel, decision, reason, details)."""
    entries = reversed(await audit.recent(GUILD, 25))
    return [(e.kind, e.channel_id, e.decision, e.reason, e.details) for e in entries]


async def test_rating_changes_return_before_and_after(parts: tuple[ModerationAdmin, AuditLog]) -> None:
    admin, audit = parts
    assert await admin.set_rating(ACTOR, None) is None  # nothing given: nothing changed, nothing audited
    change = await admin.set_rating(ACTOR, CHANNEL, maximum=Rating.EXPLICIT, over_limit=OverLimitAction.SPOILER)
    after = PolicySettings(max_rating=Rating.EXPLICIT, over_limit_action=OverLimitAction.SPOILER)
    assert change == RatingChange(CHANNEL, PolicySettings(), after, note_above_sensitive=True)
    server = await admin.set_rating(ACTOR, None, default=Rating.SENSITIVE)
    assert server == RatingChange(None, PolicySettings(), PolicySettings(default_rating=Rating.SENSITIVE))
    assert await admin.reset(ACTOR, CHANNEL) == RatingReset(CHANNEL, after)
    explicit_spoiler = "max `explicit`, default `not set`, over-limit images: `spoiler`"
    assert await _audited(audit) == [
        (
            "policy",
            CHANNEL,
            "changed",
            "rating rules of <#20>",
            {"before": NOTHING_SET, "after": explicit_spoiler},
        ),
        (
            "policy",
            None,
            "changed",
            "rating rules of server",
            {"before": NOTHING_SET, "after": "max `not set`, default `sensitive`, over-limit images: `not set`"},
        ),
        ("policy", CHANNEL, "reset", "rating rules of <#20>", {"before": explicit_spoiler, "after": NOTHING_SET}),
    ]


async def test_blocklist_changes_say_whether_anything_changed(parts: tuple[ModerationAdmin, AuditLog]) -> None:
    admin, audit = parts
    assert await admin.block(ACTOR, None, "  ", add=True) is None  # no tag at all
    # Tags are kept in their canonical form (aliases and spelling resolved), as the reply shows them.
    assert await admin.block(ACTOR, None, "Long Hair", add=True) == BlocklistChange("long_hair", None, True, True)
    assert await admin.block(ACTOR, None, "long_hair", add=True) == BlocklistChange("long_hair", None, True, False)
    assert await admin.block(ACTOR, CHANNEL, "spider", add=False) == BlocklistChange("spider", CHANNEL, False, False)
    assert await admin.block(ACTOR, CHANNEL, "spider", add=True) == BlocklistChange("spider", CHANNEL, True, True)
    assert await _audited(audit) == [  # only real changes are audited
        ("policy", None, "blocked", "blocklist of this server", {"tag": "long_hair", "entered": "Long Hair"}),
        ("policy", CHANNEL, "blocked", "blocklist of <#20>", {"tag": "spider", "entered": "spider"}),
    ]


async def test_modlog_change_and_overview(parts: tuple[ModerationAdmin, AuditLog]) -> None:
    admin, audit = parts
    assert await admin.set_modlog(ACTOR, MODLOG) == ModlogChange(MODLOG)
    await admin.block(ACTOR, None, "spider", add=True)
    await admin.block(ACTOR, None, "long hair", add=True)
    await admin.block(ACTOR, CHANNEL, "bug", add=True)
    await admin.set_rating(ACTOR, CHANNEL, maximum=Rating.GENERAL)
    assert await admin.overview(GUILD, CHANNEL) == ModerationOverview(
        channel_id=CHANNEL,
        server=PolicySettings(),
        channel=PolicySettings(max_rating=Rating.GENERAL),
        modlog_channel_id=MODLOG,
        blocked_server=("long_hair", "spider"),
        blocked_channel=("bug",),
    )
    assert await admin.set_modlog(ACTOR, None) == ModlogChange(None)
    modlog_entries = [entry for entry in await _audited(audit) if entry[3] == "mod-log channel"]
    assert modlog_entries == [
        ("policy", None, "changed", "mod-log channel", {"before": None, "after": MODLOG}),
        ("policy", None, "changed", "mod-log channel", {"before": MODLOG, "after": None}),
    ]
