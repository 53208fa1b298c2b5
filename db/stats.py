"""A server's numbers for `/stats`: images made and members served today and over the last 7
days, the average wait before a job started, and the refusals by reason, from the jobs table and
the audit log. A refusal is counted by the code recorded with it; rows older than that code
(migration 0008) by the sentence the member was told (``classify``).

The day and week boundaries are computed here in UTC and passed as parameters (no SQL date
functions), and the wait is averaged in Python, so SQLite and PostgreSQL give the same answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AuditEntry, Job, utcnow
from jobs.model import JobStatus
from moderation.audit import RefusalReason

__all__ = ["RefusalReason", "ServerStats", "StatsStore", "Window", "average_wait", "classify", "reason_of", "tally"]

WEEK = timedelta(days=7)


# Rows written before migration 0008 keep only the sentence the member was told (moderation.gate,
# quota.policy), not a code: these phrases, tried in order, tell their reasons apart.
# tests/db/test_stats.py feeds them the real sentences of that time.
_CONTENT_PHRASES = (
    ("minor-coded", RefusalReason.MINORS),
    ("does not allow sexual content", RefusalReason.SEXUAL),
    ("blocked these tags", RefusalReason.BLOCKED_TAGS),
    ("tags blocked here", RefusalReason.BLOCKED_TAGS),
    ("the limit here is", RefusalReason.RATING),
    ("this channel allows images up to", RefusalReason.RATING),
)
_QUOTA_PHRASES = (
    ("blocked from generating", RefusalReason.BLOCKED_MEMBER),
    ("of your images for today", RefusalReason.DAILY_QUOTA),
    ("left today", RefusalReason.DAILY_QUOTA),
    ("This server has used its", RefusalReason.SERVER_BUDGET),
    ("queued or running", RefusalReason.TOO_MANY_JOBS),
    ("(cooldown)", RefusalReason.COOLDOWN),
)
# Audit kinds that refuse a request: the gate's (channel and content rules) and the quota's.
CONTENT, QUOTA = "refusal", "quota"


def classify(kind: str, reason: str) -> RefusalReason:
    """The reason of one refusal in the audit log; a content refusal that matches no phrase was
    an invalid request (a bad option or prompt)."""
    phrases, fallback = (_QUOTA_PHRASES, RefusalReason.OTHER_QUOTA) if kind == QUOTA else (_CONTENT_PHRASES, None)
    for phrase, why in phrases:
        if phrase in reason:
            return why
    return fallback or RefusalReason.INVALID


@dataclass(frozen=True, slots=True)
class Window:
    """The periods `/stats` reports: since 00:00 UTC today, and the last 7 days."""

    now: datetime
    today: datetime
    week: datetime

    @classmethod
    def ending(cls, now: datetime) -> Window:
        now = now.astimezone(UTC)
        return cls(now=now, today=now.replace(hour=0, minute=0, second=0, microsecond=0), week=now - WEEK)


@dataclass(frozen=True, slots=True)
class ServerStats:
    window: Window
    images_today: int
    images_week: int
    members_today: int
    members_week: int
    average_wait_s: float | None  # None when no job started in the last 7 days
    started_week: int  # the jobs that average is over
    refusals: tuple[tuple[RefusalReason, int], ...]  # most frequent first

    @property
    def refused_week(self) -> int:
        return sum(count for _, count in self.refusals)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def average_wait(pairs: Iterable[tuple[datetime, datetime]]) -> tuple[float | None, int]:
    """The mean of (started - created) in seconds over (created, started) pairs, and their number."""
    total, count = 0.0, 0
    for created, started in pairs:
        total += max((_utc(started) - _utc(created)).total_seconds(), 0.0)
        count += 1
    return (total / count if count else None), count


def reason_of(kind: str, code: str | None, sentence: str | None) -> RefusalReason:
    """A refusal's reason: its recorded code, else (an older row, or a code this version does not
    know) what its sentence says."""
    if code is not None:
        try:
            return RefusalReason(code)
        except ValueError:
            pass
    return classify(kind, sentence or "")


def tally(rows: Iterable[tuple[str, str | None, str | None, int]]) -> tuple[tuple[RefusalReason, int], ...]:
    """(kind, code, sentence, count) rows of the audit log, summed by reason, most frequent first."""
    counts: Counter[RefusalReason] = Counter()
    for kind, code, sentence, count in rows:
        counts[reason_of(kind, code, sentence)] += count
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0].value)))


class StatsStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def server(self, guild_id: int, now: datetime | None = None) -> ServerStats:
        window = Window.ending(now or utcnow())
        async with self._sessions() as session:
            made = await self._made(session, guild_id, window)
            waits = await session.execute(
                # scope_id is the guild id for a server's jobs, and leads an index.
                select(Job.created_at, Job.started_at).where(
                    Job.scope_id == guild_id, Job.started_at.is_not(None), Job.started_at >= window.week
                )
            )
            wait, started = average_wait((row.created_at, row.started_at) for row in waits)
            # The sentence only where there is no code, so coded rows group by code alone.
            sentence = case((AuditEntry.code.is_(None), AuditEntry.reason))
            refused = await session.execute(
                select(AuditEntry.kind, AuditEntry.code, sentence, func.count())
                .where(
                    AuditEntry.guild_id == guild_id,
                    AuditEntry.kind.in_((CONTENT, QUOTA)),
                    AuditEntry.decision == "refused",
                    AuditEntry.created_at >= window.week,
                )
                .group_by(AuditEntry.kind, AuditEntry.code, sentence)
            )
            refusals = tally((kind, code, text, int(count)) for kind, code, text, count in refused.tuples())
        images_today, images_week, members_today, members_week = made
        return ServerStats(
            window,
            images_today=images_today,
            images_week=images_week,
            members_today=members_today,
            members_week=members_week,
            average_wait_s=wait,
            started_week=started,
            refusals=refusals,
        )

    @staticmethod
    async def _made(session: AsyncSession, guild_id: int, window: Window) -> tuple[int, int, int, int]:
        """Images made and members served (jobs done), today and over the week."""
        today = Job.finished_at >= window.today
        row = (
            await session.execute(
                select(
                    func.coalesce(func.sum(case((today, Job.images), else_=0)), 0),
                    func.coalesce(func.sum(Job.images), 0),
                    func.count(distinct(case((today, Job.user_id), else_=None))),
                    func.count(distinct(Job.user_id)),
                ).where(Job.scope_id == guild_id, Job.status == JobStatus.DONE, Job.finished_at >= window.week)
            )
        ).one()
        images_today, images_week, members_today, members_week = (int(value) for value in row)
        return images_today, images_week, members_today, members_week
