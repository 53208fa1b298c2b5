"""QuotaAdmin on a real database (SQLite and PostgreSQL): it returns data, and every change lands
in the audit log with the reason and details moderators have always read in `/mod audit`."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import QuotaConfig
from db.audit import AuditLog
from db.engine import create_sessionmaker
from db.quotas import QuotaStore
from moderation.admin import Actor
from quota.admin import BlockChange, LimitChange, QuotaAdmin, QuotaOverview, UserReset
from quota.policy import LimitKind, QuotaAsk, QuotaOverrides

GUILD, CHANNEL, ADMIN, ALICE, ROLE = 10, 20, 7, 8, 5
ACTOR = Actor(user_id=ADMIN, guild_id=GUILD, channel_id=CHANNEL)


@pytest.fixture
async def parts(engine: AsyncEngine) -> tuple[QuotaAdmin, AuditLog]:
    sessions = create_sessionmaker(engine)
    audit = AuditLog(sessions)
    return QuotaAdmin(QuotaStore(sessions, QuotaConfig(daily_images=20)), audit), audit


async def _audited(audit: AuditLog) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The audit entries, oldest first, as (kind, decision, reason, details)."""
    return [(e.kind, e.decision, e.reason, e.details) for e in reversed(await audit.recent(GUILD, 25))]


async def test_limit_changes_return_data_and_keep_their_audit_reasons(parts: tuple[QuotaAdmin, AuditLog]) -> None:
    admin, audit = parts
    assert await admin.set_limit(ACTOR, LimitKind.SERVER, 0, 3) == LimitChange(LimitKind.SERVER, 0, 3)
    assert await admin.set_limit(ACTOR, LimitKind.BUDGET, 0, 0) == LimitChange(LimitKind.BUDGET, 0, 0)
    assert await admin.set_limit(ACTOR, LimitKind.ROLE, ROLE, 10) == LimitChange(LimitKind.ROLE, ROLE, 10)
    assert await admin.set_limit(ACTOR, LimitKind.USER, ALICE, None) == LimitChange(LimitKind.USER, ALICE, None)
    assert await _audited(audit) == [
        ("quota", "set_server", "Members of this server: 3/day.", {"target": 0, "daily": 3}),
        ("quota", "set_budget", "This server as a whole: unlimited.", {"target": 0, "daily": 0}),
        ("quota", "set_role", "Members with <@&5>: 10/day.", {"target": ROLE, "daily": 10}),
        (
            "quota",
            "set_user",
            "<@8>: override removed; the default applies again.",
            {"target": ALICE, "daily": None},
        ),
    ]


async def test_reset_block_and_unblock_return_data_and_keep_their_audit_reasons(
    parts: tuple[QuotaAdmin, AuditLog],
) -> None:
    admin, audit = parts
    assert await admin.reset_user(ACTOR, ALICE) == UserReset(ALICE)
    assert await admin.block(ACTOR, ALICE, "spam") == BlockChange(ALICE, blocked=True, changed=True)
    assert await admin.unblock(ACTOR, ALICE) == BlockChange(ALICE, blocked=False, changed=True)
    # Unblocking a member who is not blocked changes nothing, so nothing is audited.
    assert await admin.unblock(ACTOR, ALICE) == BlockChange(ALICE, blocked=False, changed=False)
    assert await _audited(audit) == [
        ("quota", "reset_user", "<@8>'s images for today and cooldown were reset.", {"target": ALICE}),
        (
            "quota",
            "block_user",
            "<@8> can no longer generate images in this server.",
            {"target": ALICE, "reason": "spam"},
        ),
        ("quota", "unblock_user", "<@8> may generate images again.", {"target": ALICE}),
    ]


async def test_status_and_overview_are_the_stores_data(parts: tuple[QuotaAdmin, AuditLog]) -> None:
    admin, _ = parts
    await admin.set_limit(ACTOR, LimitKind.USER, ALICE, 4)
    await admin.block(ACTOR, 9, "")
    status = await admin.status(QuotaAsk(user_id=ALICE, guild_id=GUILD))
    assert (status.limits.daily, status.remaining) == (4, 4)
    assert await admin.overview(GUILD) == QuotaOverview(
        QuotaOverrides(users={ALICE: 4}, blocked={9: ""}), default_daily=20
    )
