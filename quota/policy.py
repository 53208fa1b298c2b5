"""Quota rules, free of I/O: which daily limit applies, when the day turns, and why a request
is refused. ``db.quotas`` reads the numbers under a lock and asks ``decide`` here."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from core.config import QuotaConfig

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
    """The reason this request is refused, or None to accept it. Checked from the most
    permanent reason to the most fleeting, so the member learns what actually stops them."""
    if limits.blocked is not None:
        why = f" Reason: {limits.blocked}" if limits.blocked else ""
        return f"You have been blocked from generating images in this server by its admins.{why}"
    stamp = f"<t:{int(resets_at.timestamp())}:R>"
    if limits.daily != UNLIMITED and usage.used_today + images > limits.daily:
        left = max(limits.daily - usage.used_today, 0)
        if left == 0:
            return f"You have used all {limits.daily} of your images for today. Your quota resets {stamp}."
        return (
            f"This request needs {images} images but you have {left} of {limits.daily} left today. "
            f"Your quota resets {stamp}."
        )
    if limits.guild_budget != UNLIMITED and usage.guild_used_today + images > limits.guild_budget:
        return f"This server has used its {limits.guild_budget} images for today. The budget resets {stamp}."
    if limits.max_active != UNLIMITED and usage.active >= limits.max_active:
        return (
            f"You already have {usage.active} job{'s' if usage.active != 1 else ''} queued or running "
            f"(at most {limits.max_active} at once). Wait for one to finish, or cancel one with /cancel."
        )
    if limits.cooldown_s > 0 and usage.last_request_at is not None:
        wait = limits.cooldown_s - (now - usage.last_request_at).total_seconds()
        if wait > 0:
            seconds = max(math.ceil(wait), 1)
            unit = "second" if seconds == 1 else "seconds"
            return f"Please wait {seconds} more {unit} before your next request (cooldown)."
    return None


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
