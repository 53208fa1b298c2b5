"""`/stats`'s numbers on both backends: images and members (jobs done) today and over the last 7
days, the average wait of the jobs started, and the refusals by reason, each from the real
sentences the gate and the quota record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.errors import InvalidOption, UserFacingError
from db.audit import AuditLog
from db.engine import create_sessionmaker
from db.jobs import JobStore
from db.models import AuditEntry, Job
from db.policies import PolicyStore
from db.stats import RefusalReason, StatsStore, Window, classify
from jobs.model import JobStatus, Place
from moderation.content import ContentFilter
from moderation.gate import RequestGate, Where
from prompt.options import ImagineOptions, PromptLimits
from prompt.request import build_request
from prompt.tags import TagDatabase
from quota.policy import Limits, Usage, decide
from tests.support.rules import ORDINARY

GUILD, OTHER_GUILD, CHANNEL, OTHER_CHANNEL = 10**17 + 2, 10**17 + 20, 10**17 + 3, 10**17 + 30
ALICE, BOB, CAROL = 10**17 + 1, 10**17 + 11, 10**17 + 12
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
HERE = Where(user_id=ALICE, guild_id=GUILD, channel_id=CHANNEL, parent_id=None, age_restricted=False)


def _place(user_id: int, guild_id: int = GUILD) -> Place:
    channel = CHANNEL if guild_id == GUILD else OTHER_CHANNEL
    return Place(user_id, f"member {user_id}", guild_id, "g", channel, channel_nsfw=False)


async def _job(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    status: JobStatus,
    *,
    created: datetime,
    wait_s: float | None = None,
    run_s: float = 20.0,
    images: int = 1,
    guild_id: int = GUILD,
) -> None:
    """A job as the service leaves it: created, started ``wait_s`` later, finished after ``run_s``."""
    place = _place(user_id, guild_id)
    request = build_request(
        ImagineOptions(prompt="1girl, smile", seed=1, steps=4),
        limits=PromptLimits(),
        user_id=user_id,
        guild_id=guild_id,
        channel_id=place.channel_id,
        rules=ORDINARY,
    )
    job_id = await JobStore(sessions).create(request, place)
    started = created + timedelta(seconds=wait_s) if wait_s is not None else None
    finished = started + timedelta(seconds=run_s) if started is not None and status != JobStatus.RUNNING else None
    async with sessions.begin() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(status=status, images=images, created_at=created, started_at=started, finished_at=finished)
        )


async def _refusal(audit: AuditLog, sessions: async_sessionmaker[AsyncSession], kind: str, reason: str, **at: object):  # type: ignore[no-untyped-def]
    entry = await audit.record(
        kind,
        user_id=ALICE,
        guild_id=at.get("guild_id", GUILD),  # type: ignore[arg-type]
        channel_id=CHANNEL,
        decision=str(at.get("decision", "refused")),
        reason=reason,
    )
    async with sessions.begin() as session:
        await session.execute(update(AuditEntry).where(AuditEntry.id == entry).values(created_at=at.get("when", NOW)))


def test_the_window_is_midnight_utc_and_seven_days_back() -> None:
    window = Window.ending(datetime(2025, 3, 10, 21, 30, tzinfo=UTC))
    assert window.today == datetime(2025, 3, 10, tzinfo=UTC)
    assert window.week == datetime(2025, 3, 3, 21, 30, tzinfo=UTC)


async def test_images_members_and_wait_today_and_over_the_week(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    hour = timedelta(hours=1)
    await _job(sessions, ALICE, JobStatus.DONE, created=NOW - hour, wait_s=10, images=2)
    await _job(sessions, BOB, JobStatus.DONE, created=NOW - 20 * hour, wait_s=20)  # yesterday 16:00
    await _job(sessions, CAROL, JobStatus.FAILED, created=NOW - 2 * hour, wait_s=30)  # waited, made nothing
    await _job(sessions, ALICE, JobStatus.DONE, created=NOW - timedelta(days=8), wait_s=500, images=4)  # too old
    await _job(sessions, ALICE, JobStatus.DONE, created=NOW - hour, wait_s=900, guild_id=OTHER_GUILD)
    await _job(sessions, BOB, JobStatus.QUEUED, created=NOW - hour)  # not started: no wait yet
    # Finished a second before midnight: this week, not today.
    await _job(sessions, CAROL, JobStatus.DONE, created=NOW - 12 * hour - timedelta(seconds=21), wait_s=0, run_s=20)

    stats = await StatsStore(sessions).server(GUILD, now=NOW)

    assert (stats.images_today, stats.images_week) == (2, 4)
    assert (stats.members_today, stats.members_week) == (1, 3)
    assert stats.average_wait_s == pytest.approx(15.0)  # (10 + 20 + 30 + 0) / 4
    assert stats.started_week == 4
    assert stats.refusals == ()


async def test_a_quiet_server_has_nothing_to_show(engine: AsyncEngine) -> None:
    stats = await StatsStore(create_sessionmaker(engine)).server(GUILD, now=NOW)
    assert (stats.images_today, stats.images_week, stats.members_today, stats.members_week) == (0, 0, 0, 0)
    assert (stats.average_wait_s, stats.started_week, stats.refusals, stats.refused_week) == (None, 0, (), 0)


async def _gate_refusal(gate: RequestGate, options: ImagineOptions, where: Where = HERE) -> None:
    with pytest.raises(UserFacingError):
        await gate.admit(options, where)


async def test_refusals_by_reason_from_what_the_gate_and_the_quota_record(
    engine: AsyncEngine, tag_db: TagDatabase
) -> None:
    sessions = create_sessionmaker(engine)
    audit, policies = AuditLog(sessions), PolicyStore(sessions)
    gate = RequestGate(
        policies=policies, audit=audit, content=ContentFilter.load(tag_db), tags=tag_db, limits=PromptLimits()
    )
    await policies.block(GUILD, 0, "spider", added_by=BOB)
    await _gate_refusal(gate, ImagineOptions(prompt="1girl, nude"))
    await _gate_refusal(gate, ImagineOptions(prompt="1girl, nude, smile"))
    await _gate_refusal(gate, ImagineOptions(prompt="1girl, spider"))
    await _gate_refusal(gate, ImagineOptions(prompt="1girl", rating="explicit"))
    await _gate_refusal(gate, ImagineOptions(prompt="loli, nude"))
    with pytest.raises(InvalidOption):  # an option the request cannot be built with
        await gate.admit(ImagineOptions(prompt="1girl", aspect="9:99"), HERE)
    await _gate_refusal(gate, ImagineOptions(prompt="1girl, completely nude"))
    stamp = NOW + timedelta(hours=1)
    usage = Usage(used_today=3, active=2, last_request_at=NOW, guild_used_today=10)
    for limits in (
        Limits(daily=3, guild_budget=0, max_active=0, cooldown_s=0, blocked=None),
        Limits(daily=0, guild_budget=10, max_active=0, cooldown_s=0, blocked=None),
        Limits(daily=0, guild_budget=0, max_active=2, cooldown_s=0, blocked=None),
        Limits(daily=0, guild_budget=0, max_active=0, cooldown_s=60, blocked=None),
        Limits(daily=0, guild_budget=0, max_active=0, cooldown_s=0, blocked="spam"),
    ):
        await _refusal(audit, sessions, "quota", decide(limits, usage, 1, NOW, stamp) or "")
    # Not counted: an allowed request, another server's refusal, a refusal of 8 days ago.
    await _refusal(audit, sessions, "generation", "", decision="allowed")
    await _refusal(audit, sessions, "refusal", "nope", guild_id=OTHER_GUILD)
    await _refusal(audit, sessions, "refusal", "nope", when=NOW - timedelta(days=8))

    rows = await audit.recent(GUILD, limit=100)
    stamped = update(AuditEntry).where(AuditEntry.created_at > NOW).values(created_at=NOW - timedelta(minutes=5))
    async with sessions.begin() as session:  # the gate wrote them at the real time, after NOW
        await session.execute(stamped)
    stats = await StatsStore(sessions).server(GUILD, now=NOW)

    assert dict(stats.refusals) == {
        RefusalReason.SEXUAL: 3,
        RefusalReason.BLOCKED_TAGS: 1,
        RefusalReason.RATING: 1,
        RefusalReason.MINORS: 1,
        RefusalReason.INVALID: 1,
        RefusalReason.DAILY_QUOTA: 1,
        RefusalReason.SERVER_BUDGET: 1,
        RefusalReason.TOO_MANY_JOBS: 1,
        RefusalReason.COOLDOWN: 1,
        RefusalReason.BLOCKED_MEMBER: 1,
    }, [r.reason for r in rows]
    assert stats.refusals[0] == (RefusalReason.SEXUAL, 3)  # most frequent first
    assert stats.refused_week == 12


def test_an_unknown_sentence_still_counts() -> None:
    assert classify("refusal", "Something new.") is RefusalReason.INVALID
    assert classify("quota", "Something new.") is RefusalReason.OTHER_QUOTA
    assert classify("quota", "This request needs 4 images but you have 1 of 3 left today.") is (
        RefusalReason.DAILY_QUOTA
    )
