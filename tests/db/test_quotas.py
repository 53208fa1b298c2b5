"""QuotaStore on both backends: atomic reservations under real concurrency, refunds, the daily
reset, cooldowns, admins' overrides and blocks, status, and DMs.

The concurrency tests fire many ``JobStore.create`` calls at once with ``asyncio.gather``; each
runs in its own session (and so its own pooled connection) from one sessionmaker, so the row
locks in ``QuotaStore.reserve`` are what stands between them and over-acceptance. Run with
``-s`` to see the accepted counts.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.config import QuotaConfig
from core.errors import QuotaRefused
from db.engine import create_sessionmaker
from db.jobs import JobStore
from db.models import Job, QuotaUsage
from db.quotas import GUILD_ROW, QuotaStore
from jobs.model import JobStatus, Place
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.request import (
    GenerationRequest,
    build_request,
)
from quota.policy import LimitKind, QuotaAsk
from tests.support.rules import ORDINARY

GUILD, OTHER_GUILD = 10**17 + 2, 10**17 + 20
CHANNEL, OTHER_CHANNEL, DM_CHANNEL = 10**17 + 3, 10**17 + 30, 10**17 + 300
ALICE, BOB, CAROL, ADMIN = 10**17 + 1, 10**17 + 11, 10**17 + 12, 10**17 + 99
ROLE_FAN, ROLE_PATRON, ROLE_NEW, ROLE_STAFF = 501, 502, 503, 504
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol"}

# Nothing limited: each test switches on what it checks.
OPEN = QuotaConfig(daily_images=0, max_active=0, cooldown_s=0.0, guild_daily_budget=0, reset_hour_utc=0)
T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


class FakeClock:
    """QuotaStore's clock, moved by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclasses.dataclass
class Stores:
    sessions: async_sessionmaker[AsyncSession]
    quotas: QuotaStore
    jobs: JobStore
    clock: FakeClock
    backend: str


def _stores(engine: AsyncEngine, config: QuotaConfig, clock: FakeClock | None = None) -> Stores:
    sessions = create_sessionmaker(engine)
    clock = clock or FakeClock()
    quotas = QuotaStore(sessions, config, clock=clock)
    return Stores(sessions, quotas, JobStore(sessions, quotas), clock, engine.dialect.name)


def _place(user_id: int = ALICE, guild_id: int | None = GUILD) -> Place:
    channel = {GUILD: CHANNEL, OTHER_GUILD: OTHER_CHANNEL, None: DM_CHANNEL}[guild_id]
    return Place(
        user_id=user_id,
        user_name=NAMES.get(user_id, "someone"),
        guild_id=guild_id,
        guild_name="" if guild_id is None else f"guild {guild_id}",
        channel_id=channel,
        channel_nsfw=False,
    )


def _request(place: Place, prompt: str = "1girl, smile") -> GenerationRequest:
    return build_request(
        ImagineOptions(prompt=prompt, seed=42, steps=4),
        limits=PromptLimits(),
        user_id=place.user_id,
        guild_id=place.guild_id,
        channel_id=place.channel_id,
        rules=ORDINARY,
    )


def _ask(user_id: int = ALICE, guild_id: int | None = GUILD, roles: tuple[int, ...] = (), images: int = 1) -> QuotaAsk:
    return QuotaAsk(user_id=user_id, guild_id=guild_id, role_ids=roles, images=images)


async def _create(s: Stores, user_id: int = ALICE, guild_id: int | None = GUILD, **ask: object) -> int:
    place = _place(user_id, guild_id)
    return await s.jobs.create(_request(place), place, quota=_ask(user_id, guild_id, **ask))  # type: ignore[arg-type]


async def _refused(s: Stores, user_id: int = ALICE, guild_id: int | None = GUILD, **ask: object) -> str:
    with pytest.raises(QuotaRefused) as refused:
        await _create(s, user_id, guild_id, **ask)
    return refused.value.message


async def _usage(s: Stores, scope_id: int, user_id: int) -> tuple[date | None, int] | None:
    async with s.sessions() as session:
        row = await session.get(QuotaUsage, (scope_id, user_id))
        return None if row is None else (row.day, row.used)


async def _jobs(s: Stores, user_id: int | None = None) -> int:
    query = select(func.count()).select_from(Job)
    if user_id is not None:
        query = query.where(Job.user_id == user_id)
    async with s.sessions() as session:
        return int(await session.scalar(query) or 0)


async def _hammer(s: Stores, asks: Sequence[QuotaAsk]) -> tuple[Counter[int], set[str]]:
    """Send every ask at once, each through its own session; the accepted count per member and
    the refusal messages. Any error other than QuotaRefused fails the test."""
    places = [_place(ask.user_id, ask.guild_id) for ask in asks]
    calls = [
        s.jobs.create(_request(p, f"tag{i}"), p, quota=a) for i, (p, a) in enumerate(zip(places, asks, strict=True))
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    accepted: Counter[int] = Counter()
    messages: set[str] = set()
    for ask, result in zip(asks, results, strict=True):
        if isinstance(result, QuotaRefused):
            messages.add(result.message)
        elif isinstance(result, BaseException):
            raise result
        else:
            accepted[ask.user_id] += 1
    return accepted, messages


def _report(s: Stores, what: str, accepted: Counter[int], sent: int) -> None:
    total = sum(accepted.values())
    per_user = ", ".join(f"{NAMES.get(u, u)}={n}" for u, n in sorted(accepted.items()))
    print(f"\n[{s.backend}] {what}: {total} of {sent} accepted ({per_user}), {sent - total} refused")


def _stamp(now: datetime, reset_hour: int) -> int:
    """The Discord timestamp of the next reset after ``now``."""
    day = (now - timedelta(hours=reset_hour)).date()
    return int((datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1, hours=reset_hour)).timestamp())


# ---- 1. concurrency ----------------------------------------------------------------------------


async def test_fifty_at_once_with_five_left_accept_exactly_five(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=5))
    accepted, messages = await _hammer(s, [_ask()] * 50)
    _report(s, "daily_images=5, 50 concurrent", accepted, 50)
    assert accepted[ALICE] == 5, f"[{s.backend}] accepted {accepted[ALICE]} of 50, expected 5"
    assert messages == {f"You have used all 5 of your images for today. Your quota resets <t:{_stamp(T0, 0)}:R>."}
    assert await _jobs(s, ALICE) == 5
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 5)
    # No server budget, no server row: members of one server never wait for each other's charge
    # (the budget tests below count the server's row exactly).
    assert await _usage(s, GUILD, GUILD_ROW) is None


async def test_fifty_at_once_with_max_active_three_accept_exactly_three(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, max_active=3))
    accepted, messages = await _hammer(s, [_ask()] * 50)
    _report(s, "max_active=3 (daily unlimited), 50 concurrent", accepted, 50)
    assert accepted[ALICE] == 3, f"[{s.backend}] accepted {accepted[ALICE]} of 50, expected 3"
    assert messages == {
        "You already have 3 jobs queued or running (at most 3 at once). "
        "Wait for one to finish, or cancel one with /cancel."
    }
    assert await _jobs(s, ALICE) == 3
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 3)
    # One finishes: exactly one more slot, again under fire.
    first = (await s.jobs.by_status(JobStatus.QUEUED))[0].id
    await s.jobs.mark_done(first, 1.0)
    accepted, _ = await _hammer(s, [_ask()] * 10)
    assert accepted[ALICE] == 1
    assert await _jobs(s, ALICE) == 4


async def test_two_members_at_once_each_get_their_own_five(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=5))
    accepted, _ = await _hammer(s, [_ask(user) for _ in range(15) for user in (ALICE, BOB)])
    _report(s, "daily_images=5, alice and bob 15 concurrent each", accepted, 30)
    assert accepted == Counter({ALICE: 5, BOB: 5}), f"[{s.backend}] {accepted}"
    assert await _jobs(s, ALICE) == 5 and await _jobs(s, BOB) == 5
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 5)
    assert await _usage(s, GUILD, BOB) == (T0.date(), 5)
    assert await _usage(s, GUILD, GUILD_ROW) is None  # no server budget: no server row to wait on


async def test_a_guild_budget_of_seven_shared_by_three_members_at_once(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, guild_daily_budget=7))
    accepted, messages = await _hammer(s, [_ask(user) for _ in range(10) for user in (ALICE, BOB, CAROL)])
    _report(s, "guild budget 7, 3 members x 10 concurrent", accepted, 30)
    assert sum(accepted.values()) == 7, f"[{s.backend}] {accepted}"
    assert messages == {f"This server has used its 7 images for today. The budget resets <t:{_stamp(T0, 0)}:R>."}
    assert await _jobs(s) == 7
    assert await _usage(s, GUILD, GUILD_ROW) == (T0.date(), 7)
    for user in (ALICE, BOB, CAROL):
        row = await _usage(s, GUILD, user)
        assert (row[1] if row else 0) == accepted[user] == await _jobs(s, user)
    # Another server's budget is its own.
    assert await _create(s, ALICE, OTHER_GUILD)


async def _reserve_alone(s: Stores, ask: QuotaAsk) -> bool:
    """reserve() in a transaction of its own, without JobStore.create's upserts of the user,
    guild and channel rows (which take row locks of their own on PostgreSQL)."""
    try:
        async with s.sessions.begin() as session:
            await s.quotas.reserve(session, ask)
            for _ in range(3):
                await asyncio.sleep(0)  # the caller records the job before it commits
    except QuotaRefused:
        return False
    return True


async def test_reserve_itself_decides_concurrent_sessions_one_at_a_time(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=5, guild_daily_budget=7))
    dm = await asyncio.gather(*(_reserve_alone(s, _ask(ALICE, None)) for _ in range(20)))
    users = [ALICE, BOB, CAROL] * 7
    guild = await asyncio.gather(*(_reserve_alone(s, _ask(user)) for user in users))
    per_user = Counter(user for user, ok in zip(users, guild, strict=True) if ok)
    _report(s, "reserve() alone, 20 DM requests with daily_images=5", Counter({ALICE: sum(dm)}), 20)
    _report(s, "reserve() alone, guild budget 7, 3 members x 7", per_user, 21)
    assert sum(dm) == 5
    assert await _usage(s, 0, ALICE) == (T0.date(), 5)
    assert sum(guild) == 7 and max(per_user.values()) <= 5
    assert await _usage(s, GUILD, GUILD_ROW) == (T0.date(), 7)
    for user in (ALICE, BOB, CAROL):
        row = await _usage(s, GUILD, user)
        assert (row[1] if row else 0) == per_user[user]


# ---- 2. refunds --------------------------------------------------------------------------------


async def test_failed_and_cancelled_jobs_give_images_back_done_jobs_do_not(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=5, guild_daily_budget=10))
    failed, cancelled, done = [await _create(s) for _ in range(3)]
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 3)
    assert await _usage(s, GUILD, GUILD_ROW) == (T0.date(), 3)

    await s.jobs.mark_running(failed)
    await s.jobs.mark_failed(failed, "CUDA out of memory")
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 2)
    assert await _usage(s, GUILD, GUILD_ROW) == (T0.date(), 2)  # the server's budget too

    await s.jobs.mark_cancelled(cancelled)
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 1)
    assert await _usage(s, GUILD, GUILD_ROW) == (T0.date(), 1)

    await s.jobs.mark_running(done)
    await s.jobs.mark_done(done, 2.0)
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 1)
    assert await _usage(s, GUILD, GUILD_ROW) == (T0.date(), 1)

    status = await s.quotas.status(_ask())
    assert (status.remaining, status.active, status.guild_used_today) == (4, 0, 1)


async def test_a_job_finishes_once_and_is_refunded_once(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=5, guild_daily_budget=10))
    first, second, third = [await _create(s) for _ in range(3)]
    assert await s.jobs.finish(first, JobStatus.FAILED, error="boom", refund=True)
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 2)
    # Every later attempt finds it finished: no second refund, whatever the new status.
    assert not await s.jobs.finish(first, JobStatus.FAILED, error="again", refund=True)
    await s.jobs.mark_failed(first, "again")
    await s.jobs.mark_cancelled(first)
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 2)
    assert await _usage(s, GUILD, GUILD_ROW) == (T0.date(), 2)
    record = await s.jobs.get(first)
    assert record is not None and (record.status, record.error) == (JobStatus.FAILED, "boom")

    # A done job cancelled afterwards (a late /cancel) is not refunded either.
    await s.jobs.mark_done(second, 1.0)
    await s.jobs.mark_cancelled(second)
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 2)

    # A requeued job (bot restart) keeps its charge until it finishes.
    await s.jobs.mark_running(third)
    await s.jobs.requeue(third)
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 2)
    await s.jobs.mark_cancelled(third)
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 1)


async def test_racing_finishes_refund_once(engine: AsyncEngine) -> None:
    """The worker's report racing a /cancel: one of them finishes the job, and the member gets
    the images back only if it ended failed or cancelled."""
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=50, guild_daily_budget=100))
    ids = [await _create(s) for _ in range(10)]
    raced = ids[:5]  # the other five keep their charge whatever happens
    outcomes = await asyncio.gather(
        *(s.jobs.finish(i, JobStatus.FAILED, error="boom", refund=True) for i in raced),
        *(s.jobs.finish(i, JobStatus.CANCELLED, refund=True) for i in raced),
        *(s.jobs.finish(i, JobStatus.DONE, seconds=1.0) for i in raced),
    )
    records = [await s.jobs.get(i) for i in raced]
    refunded = sum(r is not None and r.status in (JobStatus.FAILED, JobStatus.CANCELLED) for r in records)
    usage = await _usage(s, GUILD, ALICE)
    print(
        f"\n[{s.backend}] racing finishes: {sum(outcomes)} of {len(outcomes)} calls won (expected {len(raced)}); "
        f"used {usage[1] if usage else None} (expected {len(ids) - refunded})"
    )
    # Once-only on SQLite too: finish() is one conditional UPDATE ... RETURNING (SQLite ignores
    # SELECT ... FOR UPDATE, and an earlier read-then-write version let both racers win).
    assert sum(outcomes) == len(raced)
    assert usage == (T0.date(), len(ids) - refunded)
    assert await _usage(s, GUILD, GUILD_ROW) == (T0.date(), len(ids) - refunded)


async def test_a_refund_for_a_previous_day_leaves_today_alone(engine: AsyncEngine) -> None:
    clock = FakeClock(datetime(2025, 3, 10, 23, 59, tzinfo=UTC))
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=5, guild_daily_budget=10), clock)
    yesterday = await _create(s)
    clock.advance(120)  # 00:01, a new quota day
    today = await _create(s)
    assert await _usage(s, GUILD, ALICE) == (date(2025, 3, 11), 1)
    await s.jobs.mark_failed(yesterday, "stale")
    assert await _usage(s, GUILD, ALICE) == (date(2025, 3, 11), 1)
    assert await _usage(s, GUILD, GUILD_ROW) == (date(2025, 3, 11), 1)
    await s.jobs.mark_cancelled(today)
    assert await _usage(s, GUILD, ALICE) == (date(2025, 3, 11), 0)
    assert await _usage(s, GUILD, GUILD_ROW) == (date(2025, 3, 11), 0)


# ---- 3. the daily reset ------------------------------------------------------------------------


async def test_the_day_turns_at_reset_hour(engine: AsyncEngine) -> None:
    clock = FakeClock(datetime(2025, 3, 10, 5, 59, tzinfo=UTC))
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=2, reset_hour_utc=6), clock)
    status = await s.quotas.status(_ask())
    assert status.resets_at == datetime(2025, 3, 10, 6, 0, tzinfo=UTC)
    early = [await _create(s) for _ in range(2)]
    message = await _refused(s)
    stamp = int(datetime(2025, 3, 10, 6, 0, tzinfo=UTC).timestamp())
    assert message == f"You have used all 2 of your images for today. Your quota resets <t:{stamp}:R>."
    assert await _usage(s, GUILD, ALICE) == (date(2025, 3, 9), 2)  # 05:59 still belongs to the 9th
    assert (await s.quotas.status(_ask())).remaining == 0

    clock.now = datetime(2025, 3, 10, 5, 59, 59, 999999, tzinfo=UTC)
    await _refused(s)

    clock.now = datetime(2025, 3, 10, 6, 0, tzinfo=UTC)
    status = await s.quotas.status(_ask())
    assert (status.used_today, status.remaining) == (0, 2)
    assert status.resets_at == datetime(2025, 3, 11, 6, 0, tzinfo=UTC)
    late = [await _create(s) for _ in range(2)]
    await _refused(s)
    assert await _usage(s, GUILD, ALICE) == (date(2025, 3, 10), 2)
    async with s.sessions() as session:
        days = dict((await session.execute(select(Job.id, Job.quota_day))).tuples().all())
    assert [days[i] for i in early] == [date(2025, 3, 9)] * 2
    assert [days[i] for i in late] == [date(2025, 3, 10)] * 2


# ---- 4. cooldown -------------------------------------------------------------------------------


async def test_cooldown(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, cooldown_s=30.0))
    accepted, messages = await _hammer(s, [_ask()] * 10)
    _report(s, "cooldown_s=30, 10 concurrent", accepted, 10)
    assert accepted[ALICE] == 1
    assert messages == {"Please wait 30 more seconds before your next request (cooldown)."}
    assert (await s.quotas.status(_ask())).cooldown_left_s == 30.0
    s.clock.advance(10)
    assert await _refused(s) == "Please wait 20 more seconds before your next request (cooldown)."
    assert (await s.quotas.status(_ask())).cooldown_left_s == pytest.approx(20.0)
    s.clock.advance(19.5)
    assert await _refused(s) == "Please wait 1 more second before your next request (cooldown)."
    s.clock.advance(0.5)  # 30 s after the accepted one; the refusals did not restart it
    assert (await s.quotas.status(_ask())).cooldown_left_s == 0.0
    await _create(s)
    assert await _refused(s) == "Please wait 30 more seconds before your next request (cooldown)."
    assert await _jobs(s, ALICE) == 2
    await _create(s, BOB)  # someone else's cooldown is their own


# ---- 5. overrides, blocks, reset, status -------------------------------------------------------


async def _daily(s: Stores, user_id: int = ALICE, roles: tuple[int, ...] = (), guild_id: int = GUILD) -> int:
    return (await s.quotas.status(_ask(user_id, guild_id, roles))).limits.daily


async def test_overrides_server_role_and_user(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=5))
    assert await _daily(s) == 5
    await s.quotas.set_limit(GUILD, LimitKind.SERVER, 0, 3, by=ADMIN)
    assert await _daily(s) == 3
    assert await _daily(s, guild_id=OTHER_GUILD) == 5  # per server
    await s.quotas.set_limit(GUILD, LimitKind.ROLE, ROLE_FAN, 10, by=ADMIN)
    await s.quotas.set_limit(GUILD, LimitKind.ROLE, ROLE_PATRON, 20, by=ADMIN)
    await s.quotas.set_limit(GUILD, LimitKind.ROLE, ROLE_NEW, 1, by=ADMIN)
    await s.quotas.set_limit(GUILD, LimitKind.ROLE, ROLE_STAFF, 0, by=ADMIN)
    assert await _daily(s, roles=(ROLE_FAN,)) == 10
    assert await _daily(s, roles=(ROLE_NEW, ROLE_PATRON, ROLE_FAN)) == 20  # the most generous role
    assert await _daily(s, roles=(ROLE_NEW,)) == 1  # a role replaces the server value, stricter too
    assert await _daily(s, roles=(ROLE_FAN, ROLE_STAFF)) == 0  # unlimited beats any number
    assert (await s.quotas.status(_ask(roles=(ROLE_STAFF,)))).remaining is None
    assert await _daily(s, roles=(999,)) == 3  # a role without an override: the server value

    await s.quotas.set_limit(GUILD, LimitKind.USER, ALICE, 2, by=ADMIN)
    assert await _daily(s, roles=(ROLE_PATRON, ROLE_STAFF)) == 2  # the member's own override wins
    assert await _daily(s, BOB, roles=(ROLE_PATRON,)) == 20
    await s.quotas.set_limit(GUILD, LimitKind.USER, ALICE, 4, by=ADMIN)  # changed, not duplicated
    assert await _daily(s, roles=(ROLE_PATRON,)) == 4
    await s.quotas.set_limit(GUILD, LimitKind.USER, ALICE, None, by=ADMIN)
    assert await _daily(s, roles=(ROLE_PATRON,)) == 20
    await s.quotas.set_limit(GUILD, LimitKind.ROLE, ROLE_PATRON, None, by=ADMIN)
    assert await _daily(s, roles=(ROLE_PATRON,)) == 3
    await s.quotas.set_limit(GUILD, LimitKind.SERVER, 0, None, by=ADMIN)
    assert await _daily(s) == 5
    await s.quotas.set_limit(GUILD, LimitKind.SERVER, 0, None, by=ADMIN)  # removing nothing is fine

    overrides = await s.quotas.overrides(GUILD)
    assert overrides.server_daily is None and overrides.users == {}
    assert overrides.roles == {ROLE_FAN: 10, ROLE_NEW: 1, ROLE_STAFF: 0}


async def test_overrides_are_enforced_by_reserve(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=5))
    await s.quotas.set_limit(GUILD, LimitKind.SERVER, 0, 1, by=ADMIN)
    await s.quotas.set_limit(GUILD, LimitKind.ROLE, ROLE_FAN, 2, by=ADMIN)
    await s.quotas.set_limit(GUILD, LimitKind.USER, CAROL, 3, by=ADMIN)
    await s.quotas.set_limit(GUILD, LimitKind.BUDGET, 0, 5, by=ADMIN)
    await _create(s, ALICE)
    assert "used all 1 of your images" in await _refused(s, ALICE)
    await _create(s, ALICE, roles=(ROLE_FAN,))  # the role's 2 apply to the same count
    assert "used all 2 of your images" in await _refused(s, ALICE, roles=(ROLE_FAN,))
    message = await _refused(s, BOB, roles=(ROLE_FAN,), images=3)
    assert message.startswith("This request needs 3 images but you have 2 of 2 left today.")
    for _ in range(3):
        await _create(s, CAROL, roles=(ROLE_FAN,))
    assert "This server has used its 5 images" in await _refused(s, BOB, roles=(ROLE_FAN,))
    await s.quotas.set_limit(GUILD, LimitKind.BUDGET, 0, 0, by=ADMIN)  # 0: no budget
    await _create(s, BOB, roles=(ROLE_FAN,))
    # Without a budget the server's row is left alone (nobody waits on it): still the 5 counted.
    assert (await s.quotas.status(_ask(BOB))).guild_used_today == 5


async def test_block_and_unblock(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=5))
    await s.quotas.block(GUILD, ALICE, "spamming", by=ADMIN)
    assert await _refused(s) == (
        "You have been blocked from generating images in this server by its admins. Reason: spamming"
    )
    assert await _jobs(s, ALICE) == 0
    assert await _usage(s, GUILD, ALICE) is None  # the refusal rolled everything back
    assert (await s.quotas.status(_ask())).limits.blocked == "spamming"
    await s.quotas.block(GUILD, ALICE, "", by=ADMIN)  # blocking again replaces the reason
    assert await _refused(s) == "You have been blocked from generating images in this server by its admins."
    await _create(s, ALICE, OTHER_GUILD)  # only in that server
    await _create(s, ALICE, None)  # and not in DMs
    await _create(s, BOB)
    assert (await s.quotas.overrides(GUILD)).blocked == {ALICE: ""}

    assert await s.quotas.unblock(GUILD, ALICE)
    assert not await s.quotas.unblock(GUILD, ALICE)
    await _create(s)
    assert (await s.quotas.status(_ask())).limits.blocked is None


async def test_reset_user_gives_todays_images_back_and_clears_the_cooldown(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=2, cooldown_s=60.0, guild_daily_budget=10))
    await _create(s)
    s.clock.advance(60)
    await _create(s)
    s.clock.advance(60)
    assert "used all 2" in await _refused(s)
    await _create(s, BOB)
    await s.quotas.reset_user(GUILD, ALICE)
    status = await s.quotas.status(_ask())
    assert (status.used_today, status.remaining, status.cooldown_left_s) == (0, 2, 0.0)
    assert status.guild_used_today == 3  # the server's count keeps what was really made
    assert (await s.quotas.status(_ask(BOB))).cooldown_left_s == 60.0  # only that member
    await _create(s)  # no cooldown wait
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 1)
    # A refund of a job from before the reset cannot drive the count below zero.
    first = (await s.jobs.by_status(JobStatus.QUEUED))[0].id
    await s.jobs.mark_failed(first, "boom")
    await s.jobs.mark_failed((await s.jobs.by_status(JobStatus.QUEUED))[0].id, "boom")
    assert await _usage(s, GUILD, ALICE) == (T0.date(), 0)
    await s.quotas.reset_user(GUILD, CAROL)  # no row yet: nothing to do


async def test_status_reports_everything(engine: AsyncEngine) -> None:
    config = QuotaConfig(daily_images=5, max_active=3, cooldown_s=10.0, guild_daily_budget=20, reset_hour_utc=6)
    s = _stores(engine, config)
    status = await s.quotas.status(_ask())
    assert (status.used_today, status.remaining, status.active, status.guild_used_today) == (0, 5, 0, 0)
    assert (status.resets_at, status.cooldown_left_s) == (datetime(2025, 3, 11, 6, 0, tzinfo=UTC), 0.0)
    assert (status.limits.daily, status.limits.max_active, status.limits.guild_budget) == (5, 3, 20)

    first = await _create(s)
    s.clock.advance(4)
    status = await s.quotas.status(_ask())
    assert (status.used_today, status.remaining, status.active, status.guild_used_today) == (1, 4, 1, 1)
    assert status.cooldown_left_s == pytest.approx(6.0)
    assert "Please wait 6 more seconds" in await _refused(s)

    s.clock.advance(6)
    await _create(s)
    await s.jobs.mark_running(first)
    status = await s.quotas.status(_ask())
    assert (status.used_today, status.remaining, status.active, status.guild_used_today) == (2, 3, 2, 2)
    await s.jobs.mark_done(first, 1.0)
    status = await s.quotas.status(_ask())
    assert (status.used_today, status.remaining, status.active) == (2, 3, 1)

    bob = await s.quotas.status(_ask(BOB))
    assert (bob.used_today, bob.remaining, bob.active, bob.guild_used_today) == (0, 5, 0, 2)
    assert (await s.quotas.status(_ask(guild_id=OTHER_GUILD))).guild_used_today == 0

    s.clock.advance(24 * 3600)  # tomorrow: nothing used, the active job still counts
    status = await s.quotas.status(_ask())
    assert (status.used_today, status.remaining, status.active, status.guild_used_today) == (0, 5, 1, 0)


# ---- 6. DMs ------------------------------------------------------------------------------------


async def test_dms_use_scope_zero_and_the_config_defaults(engine: AsyncEngine) -> None:
    s = _stores(engine, dataclasses.replace(OPEN, daily_images=3, guild_daily_budget=1))
    # A server's overrides and blocks never reach DMs.
    await s.quotas.set_limit(GUILD, LimitKind.SERVER, 0, 100, by=ADMIN)
    await s.quotas.set_limit(GUILD, LimitKind.USER, ALICE, 100, by=ADMIN)
    await s.quotas.block(GUILD, BOB, "no", by=ADMIN)
    assert await _daily(s, guild_id=GUILD) == 100

    status = await s.quotas.status(_ask(guild_id=None))
    assert (status.limits.daily, status.remaining, status.limits.blocked) == (3, 3, None)
    ids = [await _create(s, ALICE, None) for _ in range(3)]  # the server budget of 1 does not apply
    assert "used all 3 of your images" in await _refused(s, ALICE, None)
    await _create(s, BOB, None)

    assert await _usage(s, 0, ALICE) == (T0.date(), 3)
    assert await _usage(s, 0, GUILD_ROW) is None
    assert await _usage(s, GUILD, ALICE) is None  # DMs count apart from any server
    async with s.sessions() as session:
        scopes = set((await session.scalars(select(Job.scope_id).where(Job.id.in_(ids)))).all())
    assert scopes == {0}
    status = await s.quotas.status(_ask(guild_id=None))
    assert (status.used_today, status.remaining, status.active, status.guild_used_today) == (3, 0, 3, 0)

    await s.jobs.mark_cancelled(ids[0])
    assert await _usage(s, 0, ALICE) == (T0.date(), 2)
    await _create(s, ALICE, None)
    # The same member in a server still has the server's limit, untouched by the DMs.
    assert (await s.quotas.status(_ask())).used_today == 0


async def test_refunds_and_requests_at_once_do_not_deadlock(engine: AsyncEngine) -> None:
    """A member's failed jobs are refunded while the same member asks again. reserve() locks the
    member's row, then the server's; refund() must take them in the same order, or PostgreSQL
    finds a deadlock and aborts one side (a lost request, or a job that never finishes). A single
    UPDATE ... WHERE user_id IN (member, 0) walks the primary key index: the server's row first."""
    s = _stores(engine, dataclasses.replace(OPEN, guild_daily_budget=1000))
    await _create(s, BOB)  # the server's row exists before Alice's, as it would in a live server
    errors: list[BaseException] = []
    rounds = 3 if s.backend == "postgresql" else 1  # SQLite has one writer at a time: nothing to order
    for _ in range(rounds):
        ids = await asyncio.gather(*(_create(s) for _ in range(15)))
        results = await asyncio.gather(
            *(s.jobs.mark_failed(i, "boom") for i in ids), *(_create(s) for _ in range(15)), return_exceptions=True
        )
        errors += [r for r in results if isinstance(r, BaseException)]
    print(f"\n[{s.backend}] refunds racing requests: {len(errors)} errors {[str(e)[:80] for e in errors[:2]]}")
    assert not errors
    queued = len(await s.jobs.by_status(JobStatus.QUEUED))
    assert queued == 1 + rounds * 15
    assert await _usage(s, GUILD, ALICE) == (T0.date(), queued - 1)  # every failed job was refunded
    assert await _usage(s, GUILD, GUILD_ROW) == (T0.date(), queued)
