"""What `/stats` shows a server's admins: images made and members served today and over the last
7 days, the average wait, the refusals by reason and the queue now. Built as ``core.text``
messages; the cog renders them in the admin's language."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from core.text import Lines, Message, Text, lines, t
from db.stats import RefusalReason, ServerStats
from jobs.model import ActiveJob

REASONS: Mapping[RefusalReason, Text] = MappingProxyType(
    {
        RefusalReason.MINORS: t("minor-coded characters in a sexual context"),
        RefusalReason.SEXUAL: t("sexual content where the channel does not allow it"),
        RefusalReason.BLOCKED_TAGS: t("tags the moderators blocked"),
        RefusalReason.RATING: t("a rating above the channel's limit"),
        RefusalReason.INVALID: t("an invalid option or prompt"),
        RefusalReason.DAILY_QUOTA: t("the member's daily images used up"),
        RefusalReason.SERVER_BUDGET: t("the server's daily budget used up"),
        RefusalReason.TOO_MANY_JOBS: t("too many jobs at once"),
        RefusalReason.COOLDOWN: t("the cooldown between requests"),
        RefusalReason.BLOCKED_MEMBER: t("a member blocked by the admins"),
        RefusalReason.OTHER_QUOTA: t("another quota limit"),
    }
)


@dataclass(frozen=True, slots=True)
class QueueNow:
    """The jobs waiting and being made right now, in all and from this server."""

    waiting: int
    waiting_here: int
    running: int
    running_here: int

    @classmethod
    def of(cls, waiting: Iterable[ActiveJob], running: Iterable[ActiveJob], guild_id: int) -> QueueNow:
        waiting_guilds = [job.request.guild_id for job in waiting]
        running_guilds = [job.request.guild_id for job in running]
        return cls(
            waiting=len(waiting_guilds),
            waiting_here=waiting_guilds.count(guild_id),
            running=len(running_guilds),
            running_here=running_guilds.count(guild_id),
        )


def duration(seconds: float) -> Text:
    if seconds < 60:
        return t("{seconds} s", seconds=_tenths(seconds))
    if seconds < 3600:
        return t("{minutes} min", minutes=_tenths(seconds / 60))
    return t("{hours} h", hours=_tenths(seconds / 3600))


def _tenths(value: float) -> str:
    return f"{value:.1f}"


def _wait(stats: ServerStats) -> Text:
    if stats.average_wait_s is None:
        return t("⏱️ Average wait: no job started this week")
    return t(
        "⏱️ Average wait before a job started: **{wait}** (over {jobs} job(s) this week)",
        wait=duration(stats.average_wait_s),
        jobs=stats.started_week,
    )


def _refusals(stats: ServerStats) -> Message:
    if not stats.refusals:
        return t("🚫 Refusals this week: none")
    return lines(
        t("🚫 Refusals this week: **{count}**", count=stats.refused_week),
        *(t("  • {reason}: {count}", reason=REASONS[reason], count=count) for reason, count in stats.refusals),
    )


def stats_text(stats: ServerStats, queue: QueueNow) -> Lines:
    return lines(
        t("**This server's numbers** (today: since 00:00 UTC; this week: the last 7 days)"),
        t(
            "🖼️ Images made: **{today}** today, **{week}** this week",
            today=stats.images_today,
            week=stats.images_week,
        ),
        t(
            "👥 Members served: **{today}** today, **{week}** this week",
            today=stats.members_today,
            week=stats.members_week,
        ),
        _wait(stats),
        _refusals(stats),
        t(
            "⏳ Queue now: **{waiting}** waiting ({waiting_here} from this server), "
            "**{running}** being made ({running_here} from this server)",
            waiting=queue.waiting,
            waiting_here=queue.waiting_here,
            running=queue.running,
            running_here=queue.running_here,
        ),
    )
