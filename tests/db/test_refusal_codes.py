"""A refusal's reason is kept as a code in the audit log (migration 0008): the quota store raises
it, `/stats` counts by it whatever the sentence says, and rows written before it keep NULL and
are still counted by their sentence."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Connection, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import QuotaRefused
from db.audit import AuditLog
from db.engine import create_engine, create_sessionmaker
from db.jobs import JobStore
from db.migrate import alembic_config, upgrade_to_head
from db.models import AuditEntry
from db.quotas import QuotaStore
from db.stats import RefusalReason, StatsStore, reason_of
from jobs.model import Place
from prompt.options import ImagineOptions, PromptLimits
from prompt.request import build_request
from quota.policy import QuotaAsk
from tests.db.test_quotas import OPEN, FakeClock
from tests.support.rules import ORDINARY

GUILD, CHANNEL, ALICE = 10**17 + 2, 10**17 + 3, 10**17 + 1
NOW = datetime.now(UTC)


async def _quota_code(engine: AsyncEngine, clock: FakeClock, **config: object) -> str | None:
    sessions = create_sessionmaker(engine)
    quotas = QuotaStore(sessions, dataclasses.replace(OPEN, **config), clock=clock)  # type: ignore[arg-type]
    place = Place(ALICE, "alice", GUILD, "g", CHANNEL, channel_nsfw=False)
    request = build_request(
        ImagineOptions(prompt="1girl", seed=1, steps=4),
        limits=PromptLimits(),
        user_id=ALICE,
        guild_id=GUILD,
        channel_id=CHANNEL,
        rules=ORDINARY,
    )
    jobs, ask = JobStore(sessions, quotas), QuotaAsk(user_id=ALICE, guild_id=GUILD)
    with pytest.raises(QuotaRefused) as refused:
        for _ in range(3):
            await jobs.create(request, place, quota=ask)
            clock.advance(1)
    return refused.value.code


async def test_the_quota_store_refuses_with_the_code(engine: AsyncEngine) -> None:
    clock = FakeClock()
    assert await _quota_code(engine, clock, daily_images=1) == RefusalReason.DAILY_QUOTA
    clock.advance(86_400)
    assert await _quota_code(engine, clock, cooldown_s=60.0) == RefusalReason.COOLDOWN
    clock.advance(86_400)
    assert await _quota_code(engine, clock, max_active=2) == RefusalReason.TOO_MANY_JOBS
    clock.advance(86_400)
    assert await _quota_code(engine, clock, guild_daily_budget=2) == RefusalReason.SERVER_BUDGET
    await QuotaStore(create_sessionmaker(engine), OPEN).block(GUILD, ALICE, "spam", by=5)
    assert await _quota_code(engine, clock) == RefusalReason.BLOCKED_MEMBER


async def test_stats_count_a_reworded_refusal_by_its_code(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    audit = AuditLog(sessions)
    where = {"user_id": ALICE, "guild_id": GUILD, "channel_id": CHANNEL, "decision": "refused"}
    # Sentences no phrase knows, or that name another reason: the code decides.
    await audit.record("refusal", reason="Kids? Never.", code=RefusalReason.MINORS, **where)  # type: ignore[arg-type]
    await audit.record("refusal", reason="Too spicy.", code=RefusalReason.SEXUAL, **where)  # type: ignore[arg-type]
    await audit.record("refusal", reason="Too spicy!", code=RefusalReason.SEXUAL, **where)  # type: ignore[arg-type]
    await audit.record("quota", reason="left today", code=RefusalReason.COOLDOWN, **where)  # type: ignore[arg-type]
    # Written before the code existed: counted by the sentence, as before.
    await audit.record("quota", reason="Please wait 3 more seconds (cooldown).", **where)  # type: ignore[arg-type]
    await audit.record("refusal", reason="Sexual content involving minor-coded characters.", **where)  # type: ignore[arg-type]

    stats = await StatsStore(sessions).server(GUILD, now=NOW + timedelta(minutes=1))

    assert stats.refusals == ((RefusalReason.COOLDOWN, 2), (RefusalReason.MINORS, 2), (RefusalReason.SEXUAL, 2))
    assert [entry.code for entry in await audit.recent(GUILD, limit=1)] == [None]


def test_an_unknown_code_falls_back_to_the_sentence() -> None:
    assert reason_of("quota", "someday_reason", "Please wait (cooldown).") is RefusalReason.COOLDOWN
    assert reason_of("refusal", None, None) is RefusalReason.INVALID
    assert reason_of("refusal", "rating", "anything") is RefusalReason.RATING


def _upgrade_to(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def test_upgrading_from_0007_keeps_old_audit_rows_without_a_code(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade_to, "0007")
            await connection.execute(
                text(
                    "INSERT INTO audit_log (kind, guild_id, channel_id, user_id, decision, reason, prompt, "
                    "details, created_at) VALUES ('quota', :guild, :channel, :user, 'refused', "
                    "'Please wait 5 more seconds before your next request (cooldown).', '1girl', '{}', :at)"
                ),
                {"guild": GUILD, "channel": CHANNEL, "user": ALICE, "at": NOW},
            )
        await upgrade_to_head(engine)
        sessions = create_sessionmaker(engine)
        (old,) = await AuditLog(sessions).recent(GUILD)
        assert (old.kind, old.prompt, old.code) == ("quota", "1girl", None)
        stats = await StatsStore(sessions).server(GUILD, now=NOW + timedelta(minutes=1))
        assert stats.refusals == ((RefusalReason.COOLDOWN, 1),)
        async with sessions.begin() as session:  # the new column takes a code
            await session.execute(update(AuditEntry).values(code=RefusalReason.DAILY_QUOTA))
        assert (await StatsStore(sessions).server(GUILD, now=NOW + timedelta(minutes=1))).refusals == (
            (RefusalReason.DAILY_QUOTA, 1),
        )
    finally:
        await engine.dispose()
