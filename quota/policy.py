"""Quota rules, free of I/O: which daily limit applies, when the day turns, and why a request
is refused. ``db.quotas`` reads the numbers under a lock and asks ``decide`` here."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.config import QuotaConfig
from core.errors import QuotaRefused
from core.text import Message, Text, t
from moderation.audit import RefusalReason

UNLIMITED = 0


@dataclass(frozen=True, slots=True)
class QuotaOverrides:
    """What a server's admins changed; ``None`` / absent means the config default applies."""

    server_daily: int | None = None
    guild_budget: int | None = None
    roles: Mapping[int, int] = field(default_factory=dict)
    users: Mapping[int, int] = field(default_factory=dict)
    blocked: Mapping[int, str] = field(default_factory=dict)  # user id -> reason


@dataclass(frozen=True, slots=True)
class Limits:
    daily: int  # 0 = unlimited
    max_active: int  # 0 = unlimited
    cooldown_s: float
    guild_budget: int  # 0 = none
    blocked: str | None  # the reason, when the member is blocked


def limits_for(config: QuotaConfig, overrides: QuotaOverrides, user_id: int, role_ids: Iterable[int]) -> Limits:
    """A member's own override wins; else the most generous of their roles' overrides; else the
    server's; else the config. Roles replace the server value rather than add to it, so a role
    can also be stricter than the default (e.g. "new members: 5")."""
    if user_id in overrides.users:
        daily = overrides.users[user_id]
    else:
        role_values = [overrides.roles[r] for r in role_ids if r in overrides.roles]
        if role_values:
            daily = UNLIMITED if UNLIMITED in role_values else max(role_values)
        elif overrides.server_daily is not None:
            daily = overrides.server_daily
        else:
            daily = config.daily_images
    budget = overrides.guild_budget if overrides.guild_budget is not None else config.guild_daily_budget
    return Limits(
        daily=daily,
        max_active=config.max_active,
        cooldown_s=config.cooldown_s,
        guild_budget=budget,
        blocked=overrides.blocked.get(user_id),
    )


def quota_day(now: datetime, reset_hour_utc: int) -> date:
    """The quota day ``now`` falls in: days start at ``reset_hour_utc`` o'clock UTC."""
    return (now - timedelta(hours=reset_hour_utc)).date()


def next_reset(now: datetime, reset_hour_utc: int) -> datetime:
    day = quota_day(now, reset_hour_utc)
    start = datetime(day.year, day.month, day.day, tzinfo=now.tzinfo) + timedelta(hours=reset_hour_utc)
    return start + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Usage:
    """What is already used, read under the reservation's lock."""

    used_today: int
    active: int  # the member's jobs queued or running
    last_request_at: datetime | None
    guild_used_today: int


def decide(limits: Limits, usage: Usage, images: int, now: datetime, resets_at: datetime) -> str | None:
    """``decide_text`` in English."""
    reason = decide_text(limits, usage, images, now, resets_at)
    return None if reason is None else str(reason)


def decide_text(limits: Limits, usage: Usage, images: int, now: datetime, resets_at: datetime) -> Text | None:
    """The reason this request is refused, or None to accept it (``refusal``'s sentence)."""
    found = refusal(limits, usage, images, now, resets_at)
    return None if found is None else found.text


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is refused: the code the audit log keeps, and the sentence the member reads."""

    code: RefusalReason
    text: Text

    def error(self) -> QuotaRefused:
        return QuotaRefused(self.text, self.code)


def refused(found: Refusal | None, otherwise: Message = "") -> QuotaRefused:
    """The error for a refusal; ``otherwise`` when the numbers read back no longer refuse."""
    return found.error() if found is not None else QuotaRefused(otherwise, RefusalReason.OTHER_QUOTA)


def refusal(limits: Limits, usage: Usage, images: int, now: datetime, resets_at: datetime) -> Refusal | None:
    """Why this request is refused, or None to accept it. Checked from the most permanent reason
    to the most fleeting, so the member learns what actually stops them."""
    if limits.blocked is not None:
        return Refusal(RefusalReason.BLOCKED_MEMBER, _blocked_refusal(limits.blocked))
    stamp = f"<t:{int(resets_at.timestamp())}:R>"
    if limits.daily != UNLIMITED and usage.used_today + images > limits.daily:
        return Refusal(RefusalReason.DAILY_QUOTA, _daily_refusal(limits.daily, usage.used_today, images, stamp))
    if limits.guild_budget != UNLIMITED and usage.guild_used_today + images > limits.guild_budget:
        return Refusal(RefusalReason.SERVER_BUDGET, _budget_refusal(limits.guild_budget, stamp))
    if limits.max_active != UNLIMITED and usage.active >= limits.max_active:
        return Refusal(RefusalReason.TOO_MANY_JOBS, _active_refusal(usage.active, limits.max_active))
    if limits.cooldown_s > 0 and usage.last_request_at is not None:
        wait = limits.cooldown_s - (now - usage.last_request_at).total_seconds()
        if wait > 0:
            return Refusal(RefusalReason.COOLDOWN, _cooldown_refusal(max(math.ceil(wait), 1)))
    return None


def _blocked_refusal(reason: str) -> Text:
    if reason:
        return t(
            "You have been blocked from generating images in this server by its admins. Reason: {reason}",
            reason=reason,
        )
    return t("You have been blocked from generating images in this server by its admins.")


def _daily_refusal(daily: int, used_today: int, images: int, stamp: str) -> Text:
    left = max(daily - used_today, 0)
    if left == 0:
        # i18n: {when} is a Discord timestamp shown in the reader's language, e.g. "in 3 hours".
        return t(
            "You have used all {daily} of your images for today. Your quota resets {when}.",
            daily=daily,
            when=stamp,
        )
    # i18n: {when} is a Discord timestamp shown in the reader's language, e.g. "in 3 hours".
    return t(
        "This request needs {images} images but you have {left} of {daily} left today. Your quota resets {when}.",
        images=images,
        left=left,
        daily=daily,
        when=stamp,
    )


def _budget_refusal(budget: int, stamp: str) -> Text:
    # i18n: {when} is a Discord timestamp shown in the reader's language, e.g. "in 3 hours".
    return t("This server has used its {budget} images for today. The budget resets {when}.", budget=budget, when=stamp)


def _cooldown_refusal(seconds: int) -> Text:
    if seconds == 1:
        return t("Please wait {seconds} more second before your next request (cooldown).", seconds=seconds)
    return t("Please wait {seconds} more seconds before your next request (cooldown).", seconds=seconds)


def _active_refusal(active: int, most: int) -> Text:
    if active == 1:
        return t(
            "You already have {active} job queued or running (at most {most} at once). "
            "Wait for one to finish, or cancel one with /cancel.",
            active=active,
            most=most,
        )
    return t(
        "You already have {active} jobs queued or running (at most {most} at once). "
        "Wait for one to finish, or cancel one with /cancel.",
        active=active,
        most=most,
    )


@dataclass(frozen=True, slots=True)
class QuotaAsk:
    """Who wants how many images, and where. ``scope_id`` is the guild id, 0 for DMs."""

    user_id: int
    guild_id: int | None
    role_ids: tuple[int, ...] = ()
    images: int = 1

    @property
    def scope_id(self) -> int:
        return self.guild_id or 0


class LimitKind(enum.StrEnum):
    SERVER = "server"
    BUDGET = "budget"
    ROLE = "role"
    USER = "user"


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    limits: Limits
    used_today: int
    active: int
    guild_used_today: int
    resets_at: datetime
    cooldown_left_s: float

    @property
    def remaining(self) -> int | None:
        """Images left today; None when unlimited."""
        return None if self.limits.daily == 0 else max(self.limits.daily - self.used_today, 0)
