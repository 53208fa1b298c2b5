"""Quota bookkeeping in the database: admins' overrides, blocks, and the per-day counters.

``reserve`` runs inside the transaction that records the job, after locking the member's
counter row, so concurrent requests from one member are decided one at a time on SQLite
(one writer at a time) and PostgreSQL (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import QuotaConfig
from core.errors import QuotaRefused
from core.text import t
from db.engine import upsert_insert
from db.models import GenerationBlock, Job, QuotaLimit, QuotaUsage, utcnow
from jobs.model import JobStatus
from quota.policy import (
    UNLIMITED,
    LimitKind,
    Limits,
    QuotaAsk,
    QuotaOverrides,
    QuotaStatus,
    Usage,
    limits_for,
    next_reset,
    quota_day,
    refusal,
    refused,
)

GUILD_ROW = 0  # user_id of the row that counts a whole server's images
ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class Charge:
    day: date
    images: int


def _scope_filter(scope_id: int, user_ids: Iterable[int]) -> ColumnElement[bool]:
    return and_(QuotaUsage.scope_id == scope_id, QuotaUsage.user_id.in_(list(user_ids)))


class QuotaStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        config: QuotaConfig,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._config = config
        self.clock = clock
        # Admins' overrides per server, read on every request and changed only through this
        # store: kept until it changes them. A change during a read bumps the version, and that
        # read is then not kept (the policy store does the same).
        self._overrides_of: dict[int, QuotaOverrides] = {}
        self._versions: dict[int, int] = {}

    @property
    def config(self) -> QuotaConfig:
        return self._config

    # ---- reading -----------------------------------------------------------------------------

    async def _overrides(self, session: AsyncSession, guild_id: int | None) -> QuotaOverrides:
        if guild_id is None:
            return QuotaOverrides()
        known = self._overrides_of.get(guild_id)
        if known is not None:
            return known
        version = self._versions.get(guild_id, 0)
        overrides = await self._read_overrides(session, guild_id)
        if self._versions.get(guild_id, 0) == version:
            self._overrides_of[guild_id] = overrides
        return overrides

    def _changed(self, guild_id: int) -> None:
        self._versions[guild_id] = self._versions.get(guild_id, 0) + 1
        self._overrides_of.pop(guild_id, None)

    async def _read_overrides(self, session: AsyncSession, guild_id: int) -> QuotaOverrides:
        limits = (await session.scalars(select(QuotaLimit).where(QuotaLimit.guild_id == guild_id))).all()
        blocks = (await session.scalars(select(GenerationBlock).where(GenerationBlock.guild_id == guild_id))).all()
        by_kind: dict[str, dict[int, int]] = {kind.value: {} for kind in LimitKind}
        for row in limits:
            by_kind[row.kind][row.target_id] = row.daily_images
        return QuotaOverrides(
            server_daily=by_kind[LimitKind.SERVER].get(0),
            guild_budget=by_kind[LimitKind.BUDGET].get(0),
            roles=by_kind[LimitKind.ROLE],
            users=by_kind[LimitKind.USER],
            blocked={b.user_id: b.reason for b in blocks},
        )

    async def overrides(self, guild_id: int | None) -> QuotaOverrides:
        async with self._sessions() as session:
            return await self._overrides(session, guild_id)

    async def _active(self, session: AsyncSession, scope_id: int, user_id: int) -> int:
        count = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.scope_id == scope_id, Job.user_id == user_id, Job.status.in_(ACTIVE))
        )
        return int(count or 0)

    async def status(self, ask: QuotaAsk) -> QuotaStatus:
        now = self.clock()
        today = quota_day(now, self._config.reset_hour_utc)
        async with self._sessions() as session:
            limits = limits_for(self._config, await self._overrides(session, ask.guild_id), ask.user_id, ask.role_ids)
            rows = {
                row.user_id: row
                for row in await session.scalars(
                    select(QuotaUsage).where(_scope_filter(ask.scope_id, (ask.user_id, GUILD_ROW)))
                )
            }
            active = await self._active(session, ask.scope_id, ask.user_id)
        mine, guild = rows.get(ask.user_id), rows.get(GUILD_ROW)
        cooldown_left = 0.0
        if mine is not None and mine.last_request_at is not None and limits.cooldown_s > 0:
            cooldown_left = max(limits.cooldown_s - (now - _aware(mine.last_request_at)).total_seconds(), 0.0)
        return QuotaStatus(
            limits=limits,
            used_today=mine.used if mine is not None and mine.day == today else 0,
            active=active,
            guild_used_today=guild.used if guild is not None and guild.day == today and ask.scope_id else 0,
            resets_at=next_reset(now, self._config.reset_hour_utc),
            cooldown_left_s=cooldown_left,
        )

    # ---- reserving and refunding (inside the caller's transaction) ------------------------------

    @staticmethod
    def _used_today(today: date) -> ColumnElement[int]:
        return case((QuotaUsage.day == today, QuotaUsage.used), else_=0)

    async def _charge_row(
        self,
        session: AsyncSession,
        key: tuple[int, int],
        images: int,
        today: date,
        *,
        limit: int,
        cooldown_since: datetime | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Add ``images`` to today's count of one counter row, in one conditional statement: only
        while the count stays within ``limit`` (0 = none) and, with ``cooldown_since``, only when
        the last request was before it. False: nothing was charged. On PostgreSQL the statement
        holds that row (and only that one) until the caller commits."""
        scope_id, user_id = key
        conditions: list[ColumnElement[bool]] = []
        if limit != UNLIMITED:
            conditions.append(self._used_today(today) + images <= limit)
        if cooldown_since is not None:
            conditions.append(or_(QuotaUsage.last_request_at.is_(None), QuotaUsage.last_request_at <= cooldown_since))
        stamp = {"last_request_at": now} if now is not None else {}
        insert = upsert_insert(session, QuotaUsage).values(
            scope_id=scope_id, user_id=user_id, used=images, day=today, **stamp
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["scope_id", "user_id"],
            set_={"used": self._used_today(today) + images, "day": today, **stamp},
            where=and_(*conditions) if conditions else None,
        ).returning(QuotaUsage.used)
        return (await session.scalar(upsert)) is not None

    async def reserve(self, session: AsyncSession, ask: QuotaAsk) -> Charge:
        """Charge ``ask.images`` or raise QuotaRefused with the reason; the caller commits.

        Locks only what a limit needs: the member's counter row (by the charging statement itself),
        and the server's row only when a server budget is set, so members of one server do not
        wait for each other."""
        now = self.clock()
        today = quota_day(now, self._config.reset_hour_utc)
        resets_at = next_reset(now, self._config.reset_hour_utc)
        limits = limits_for(self._config, await self._overrides(session, ask.guild_id), ask.user_id, ask.role_ids)
        fresh = Usage(used_today=0, active=0, last_request_at=None, guild_used_today=0)
        if limits.blocked is not None or (limits.daily != UNLIMITED and ask.images > limits.daily):
            raise refused(refusal(limits, fresh, ask.images, now, resets_at))
        cooldown_since = now - timedelta(seconds=limits.cooldown_s) if limits.cooldown_s > 0 else None
        member = (ask.scope_id, ask.user_id)
        if not await self._charge_row(
            session, member, ask.images, today, limit=limits.daily, cooldown_since=cooldown_since, now=now
        ):
            raise await self._refusal(session, ask, limits, now, today, resets_at)
        # Counted once the member's row is held, so the member's concurrent requests see each other.
        active = await self._active(session, ask.scope_id, ask.user_id) if limits.max_active != UNLIMITED else 0
        budgeted = ask.scope_id != 0 and limits.guild_budget != UNLIMITED  # a server's budget never reaches DMs
        over_budget = budgeted and not await self._charge_row(
            session, (ask.scope_id, GUILD_ROW), ask.images, today, limit=limits.guild_budget
        )
        if over_budget or (limits.max_active != UNLIMITED and active >= limits.max_active):
            guild_used = await self._guild_used(session, ask.scope_id, today) if over_budget else 0
            usage = Usage(used_today=0, active=active, last_request_at=None, guild_used_today=guild_used)
            raise refused(refusal(limits, usage, ask.images, now, resets_at))
        return Charge(today, ask.images)

    async def _refusal(
        self, session: AsyncSession, ask: QuotaAsk, limits: Limits, now: datetime, today: date, resets_at: datetime
    ) -> QuotaRefused:
        """Why the member's counter refused the charge (its daily limit or the cooldown)."""
        row = await session.get(QuotaUsage, (ask.scope_id, ask.user_id), populate_existing=True)
        usage = Usage(
            used_today=row.used if row is not None and row.day == today else 0,
            active=0,
            last_request_at=_aware(row.last_request_at) if row is not None and row.last_request_at else None,
            guild_used_today=0,
        )
        return refused(refusal(limits, usage, ask.images, now, resets_at), t("This request is over your quota."))

    async def _guild_used(self, session: AsyncSession, scope_id: int, today: date) -> int:
        row = await session.get(QuotaUsage, (scope_id, GUILD_ROW), populate_existing=True)
        return row.used if row is not None and row.day == today else 0

    async def refund(self, session: AsyncSession, scope_id: int, user_id: int, charge: Charge) -> None:
        """Give the images back to the day they were charged to (nothing if that day is over)."""
        # One row at a time, the member's before the server's: the order ``reserve`` locks them
        # in. A single UPDATE ... WHERE user_id IN (member, 0) locks them in whatever order the
        # plan visits them (the primary key index: the server's row, user_id 0, first), which
        # deadlocks on PostgreSQL against a reservation by the same member.
        for row_user_id in (user_id, GUILD_ROW):
            await session.execute(
                update(QuotaUsage)
                .where(
                    QuotaUsage.scope_id == scope_id,
                    QuotaUsage.user_id == row_user_id,
                    QuotaUsage.day == charge.day,
                )
                .values(used=case((QuotaUsage.used > charge.images, QuotaUsage.used - charge.images), else_=0))
            )

    # ---- admin changes -------------------------------------------------------------------------

    async def set_limit(
        self, guild_id: int, kind: LimitKind, target_id: int, daily_images: int | None, *, by: int
    ) -> None:
        """Override a daily limit (0 = unlimited), or remove the override with None."""
        async with self._sessions.begin() as session:
            key = and_(
                QuotaLimit.guild_id == guild_id, QuotaLimit.kind == kind.value, QuotaLimit.target_id == target_id
            )
            if daily_images is None:
                await session.execute(delete(QuotaLimit).where(key))
            else:
                values = {"daily_images": daily_images, "updated_by": by, "updated_at": utcnow()}
                insert = upsert_insert(session, QuotaLimit).values(
                    guild_id=guild_id, kind=kind.value, target_id=target_id, **values
                )
                await session.execute(
                    insert.on_conflict_do_update(index_elements=["guild_id", "kind", "target_id"], set_=values)
                )
        self._changed(guild_id)

    async def reset_user(self, guild_id: int, user_id: int) -> None:
        """Today's count and the cooldown start again for this member."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(QuotaUsage)
                .where(QuotaUsage.scope_id == guild_id, QuotaUsage.user_id == user_id)
                .values(used=0, last_request_at=None)
            )

    async def block(self, guild_id: int, user_id: int, reason: str, *, by: int) -> None:
        async with self._sessions.begin() as session:
            values = {"reason": reason, "blocked_by": by, "created_at": utcnow()}
            insert = upsert_insert(session, GenerationBlock).values(guild_id=guild_id, user_id=user_id, **values)
            await session.execute(insert.on_conflict_do_update(index_elements=["guild_id", "user_id"], set_=values))
        self._changed(guild_id)

    async def unblock(self, guild_id: int, user_id: int) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(GenerationBlock).where(GenerationBlock.guild_id == guild_id, GenerationBlock.user_id == user_id)
            )
        self._changed(guild_id)
        return bool(getattr(result, "rowcount", 0))


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time here is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
