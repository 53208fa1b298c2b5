"""Table-driven: which daily limit applies, when the quota day turns, and why a request is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import QuotaConfig
from quota.policy import UNLIMITED, Limits, QuotaOverrides, Usage, decide, limits_for, next_reset, quota_day

ME, OTHER = 42, 43
SUPPORTER, NEWBIE, VIP = 1, 2, 3  # role ids
CONFIG = QuotaConfig(daily_images=50, max_active=3, cooldown_s=5.0, guild_daily_budget=0)


# --- limits_for ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "roles", "expected"),
    [
        pytest.param(QuotaOverrides(), [], 50, id="config default"),
        pytest.param(QuotaOverrides(), [SUPPORTER], 50, id="roles without overrides change nothing"),
        pytest.param(QuotaOverrides(server_daily=20), [], 20, id="server override"),
        pytest.param(QuotaOverrides(server_daily=0), [], UNLIMITED, id="server unlimited is not the default"),
        pytest.param(QuotaOverrides(server_daily=20, roles={SUPPORTER: 30}), [SUPPORTER], 30, id="role over server"),
        pytest.param(
            QuotaOverrides(server_daily=20, roles={NEWBIE: 5}), [NEWBIE], 5, id="role replaces server even stricter"
        ),
        pytest.param(QuotaOverrides(roles={NEWBIE: 5}), [NEWBIE], 5, id="role replaces config even stricter"),
        pytest.param(QuotaOverrides(server_daily=20, roles={SUPPORTER: 30}), [VIP], 20, id="role the member lacks"),
        pytest.param(
            QuotaOverrides(roles={SUPPORTER: 30, NEWBIE: 5}), [NEWBIE, SUPPORTER], 30, id="most generous role"
        ),
        pytest.param(
            QuotaOverrides(roles={SUPPORTER: 30, VIP: 0, NEWBIE: 5}),
            [SUPPORTER, VIP, NEWBIE],
            UNLIMITED,
            id="unlimited role wins",
        ),
        pytest.param(
            QuotaOverrides(server_daily=20, roles={SUPPORTER: 0}, users={ME: 7}),
            [SUPPORTER],
            7,
            id="user override beats an unlimited role",
        ),
        pytest.param(
            QuotaOverrides(server_daily=20, roles={NEWBIE: 5}, users={ME: 0}), [NEWBIE], UNLIMITED, id="user unlimited"
        ),
        pytest.param(QuotaOverrides(server_daily=20, users={ME: 100}), [], 100, id="user more than the server"),
        pytest.param(QuotaOverrides(server_daily=20, users={OTHER: 1}), [], 20, id="another member's override"),
        pytest.param(
            QuotaOverrides(server_daily=20, roles={SUPPORTER: 30}, users={OTHER: 1}),
            [SUPPORTER],
            30,
            id="another member's override with roles",
        ),
    ],
)
def test_daily_limit_precedence(overrides: QuotaOverrides, roles: list[int], expected: int) -> None:
    assert limits_for(CONFIG, overrides, ME, roles).daily == expected
    assert limits_for(CONFIG, overrides, ME, iter(roles)).daily == expected  # any iterable of ids


@pytest.mark.parametrize(
    ("config_budget", "override", "expected"),
    [(0, None, 0), (500, None, 500), (500, 100, 100), (500, 0, 0), (0, 300, 300)],
)
def test_guild_budget_from_override_or_config(config_budget: int, override: int | None, expected: int) -> None:
    config = replace(CONFIG, guild_daily_budget=config_budget)
    assert limits_for(config, QuotaOverrides(guild_budget=override), ME, []).guild_budget == expected


def test_limits_carry_the_config_and_the_block() -> None:
    config = QuotaConfig(daily_images=9, max_active=2, cooldown_s=12.5, guild_daily_budget=77)
    overrides = QuotaOverrides(blocked={ME: "spamming", OTHER: ""})
    assert limits_for(config, overrides, ME, []) == Limits(
        daily=9, max_active=2, cooldown_s=12.5, guild_budget=77, blocked="spamming"
    )
    assert limits_for(config, overrides, OTHER, []).blocked == ""  # blocked without a reason
    assert limits_for(config, overrides, 44, []).blocked is None


# --- quota_day / next_reset ----------------------------------------------------------------------


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "hour", "day", "reset"),
    [
        # Midnight resets.
        (_at(2024, 3, 10, 0, 0), 0, date(2024, 3, 10), _at(2024, 3, 11)),
        (_at(2024, 3, 10, 12, 30), 0, date(2024, 3, 10), _at(2024, 3, 11)),
        (_at(2024, 3, 10, 23, 59, 59, 999999), 0, date(2024, 3, 10), _at(2024, 3, 11)),
        (_at(2024, 2, 29, 23, 59), 0, date(2024, 2, 29), _at(2024, 3, 1)),
        (_at(2024, 12, 31, 23, 59, 59), 0, date(2024, 12, 31), _at(2025, 1, 1)),
        (_at(2025, 1, 1, 0, 0), 0, date(2025, 1, 1), _at(2025, 1, 2)),
        # 06:00 UTC resets: just before, at and after the boundary.
        (_at(2024, 3, 10, 5, 59, 59, 999999), 6, date(2024, 3, 9), _at(2024, 3, 10, 6)),
        (_at(2024, 3, 10, 6, 0), 6, date(2024, 3, 10), _at(2024, 3, 11, 6)),
        (_at(2024, 3, 10, 6, 0, 0, 1), 6, date(2024, 3, 10), _at(2024, 3, 11, 6)),
        (_at(2024, 3, 10, 0, 0), 6, date(2024, 3, 9), _at(2024, 3, 10, 6)),
        (_at(2024, 3, 10, 23, 0), 6, date(2024, 3, 10), _at(2024, 3, 11, 6)),
        # ... across month ends (leap and common years) and the year end.
        (_at(2024, 3, 1, 5, 0), 6, date(2024, 2, 29), _at(2024, 3, 1, 6)),
        (_at(2023, 3, 1, 5, 59), 6, date(2023, 2, 28), _at(2023, 3, 1, 6)),
        (_at(2024, 4, 30, 23, 0), 6, date(2024, 4, 30), _at(2024, 5, 1, 6)),
        (_at(2024, 5, 1, 3, 0), 6, date(2024, 4, 30), _at(2024, 5, 1, 6)),
        (_at(2024, 12, 31, 6, 0), 6, date(2024, 12, 31), _at(2025, 1, 1, 6)),
        (_at(2025, 1, 1, 5, 59, 59), 6, date(2024, 12, 31), _at(2025, 1, 1, 6)),
        (_at(2025, 1, 1, 6, 0), 6, date(2025, 1, 1), _at(2025, 1, 2, 6)),
        # The latest possible reset hour.
        (_at(2024, 1, 1, 22, 59), 23, date(2023, 12, 31), _at(2024, 1, 1, 23)),
        (_at(2024, 1, 1, 23, 0), 23, date(2024, 1, 1), _at(2024, 1, 2, 23)),
    ],
)
def test_quota_day_and_next_reset(now: datetime, hour: int, day: date, reset: datetime) -> None:
    assert quota_day(now, hour) == day
    assert next_reset(now, hour) == reset
    assert next_reset(now, hour).tzinfo is UTC
    # Naive UTC datetimes give the same answers.
    naive = now.replace(tzinfo=None)
    assert quota_day(naive, hour) == day
    assert next_reset(naive, hour) == reset.replace(tzinfo=None)


@given(
    st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.integers(0, 23),
)
def test_next_reset_is_the_start_of_the_next_quota_day(now: datetime, hour: int) -> None:
    reset = next_reset(now, hour)
    assert now < reset <= now + timedelta(days=1)
    assert (reset.hour, reset.minute, reset.second, reset.microsecond) == (hour, 0, 0, 0)
    assert quota_day(reset, hour) == quota_day(now, hour) + timedelta(days=1)
    assert quota_day(reset - timedelta(microseconds=1), hour) == quota_day(now, hour)


# --- decide ------------------------------------------------------------------------------------

NOW = _at(2024, 3, 10, 12, 0)
RESETS = _at(2024, 3, 11, 0, 0)
STAMP = f"<t:{int(RESETS.timestamp())}:R>"
LIMITS = Limits(daily=10, max_active=3, cooldown_s=5.0, guild_budget=0, blocked=None)


def _decide(
    images: int = 1,
    limits: Limits = LIMITS,
    *,
    used_today: int = 0,
    active: int = 0,
    last_request_at: datetime | None = None,
    guild_used_today: int = 0,
) -> str | None:
    usage = Usage(used_today, active, last_request_at, guild_used_today)
    return decide(limits, usage, images, NOW, RESETS)


def test_stamp_is_the_discord_relative_time_of_the_reset() -> None:
    assert STAMP == "<t:1710115200:R>"


@pytest.mark.parametrize(
    ("used", "images", "expected"),
    [
        (0, 1, None),
        (9, 1, None),
        (6, 4, None),  # exactly fills the quota
        (0, 10, None),
        (10, 1, f"You have used all 10 of your images for today. Your quota resets {STAMP}."),
        (12, 1, f"You have used all 10 of your images for today. Your quota resets {STAMP}."),  # limit lowered
        (10, 4, f"You have used all 10 of your images for today. Your quota resets {STAMP}."),
        (
            8,
            4,
            f"This request needs 4 images but you have 2 of 10 left today. Your quota resets {STAMP}.",
        ),
        (
            0,
            11,
            f"This request needs 11 images but you have 10 of 10 left today. Your quota resets {STAMP}.",
        ),
    ],
)
def test_daily_limit(used: int, images: int, expected: str | None) -> None:
    assert _decide(images, used_today=used) == expected


@given(used=st.integers(0, 10**9), images=st.integers(1, 1000))
def test_unlimited_never_refuses_on_the_daily_count(used: int, images: int) -> None:
    assert _decide(images, replace(LIMITS, daily=UNLIMITED), used_today=used) is None


@pytest.mark.parametrize(
    ("budget", "guild_used", "images", "refused"),
    [
        (0, 10**6, 4, False),  # no server budget
        (100, 0, 4, False),
        (100, 96, 4, False),
        (100, 97, 4, True),
        (100, 100, 1, True),
    ],
)
def test_guild_budget(budget: int, guild_used: int, images: int, refused: bool) -> None:
    reason = _decide(images, replace(LIMITS, guild_budget=budget), guild_used_today=guild_used)
    expected = f"This server has used its {budget} images for today. The budget resets {STAMP}."
    assert reason == (expected if refused else None)


@pytest.mark.parametrize(
    ("max_active", "active", "expected"),
    [
        (3, 2, None),
        (
            3,
            3,
            "You already have 3 jobs queued or running (at most 3 at once). "
            "Wait for one to finish, or cancel one with /cancel.",
        ),
        (
            1,
            1,
            "You already have 1 job queued or running (at most 1 at once). "
            "Wait for one to finish, or cancel one with /cancel.",
        ),
        (
            2,
            5,
            "You already have 5 jobs queued or running (at most 2 at once). "
            "Wait for one to finish, or cancel one with /cancel.",
        ),
        (UNLIMITED, 1000, None),
    ],
)
def test_max_active(max_active: int, active: int, expected: str | None) -> None:
    assert _decide(limits=replace(LIMITS, max_active=max_active), active=active) == expected


def _wait(seconds: int) -> str:
    unit = "second" if seconds == 1 else "seconds"
    return f"Please wait {seconds} more {unit} before your next request (cooldown)."


@pytest.mark.parametrize(
    ("cooldown", "ago", "expected"),
    [
        (5.0, None, None),  # never asked before
        (0.0, 0.0, None),  # no cooldown
        (0.0, None, None),
        (5.0, 0.0, _wait(5)),
        (5.0, 1.2, _wait(4)),  # 3.8 s left, rounded up
        (5.0, 4.0, _wait(1)),
        (5.0, 4.5, _wait(1)),
        (5.0, 4.999, _wait(1)),  # a sliver left still says one second, never zero
        (5.0, 5.0, None),
        (5.0, 60.0, None),
        (30.0, 0.5, _wait(30)),
        (2.5, 0.0, _wait(3)),
    ],
)
def test_cooldown(cooldown: float, ago: float | None, expected: str | None) -> None:
    last = None if ago is None else NOW - timedelta(seconds=ago)
    assert _decide(limits=replace(LIMITS, cooldown_s=cooldown), last_request_at=last) == expected


@pytest.mark.parametrize(
    ("reason", "suffix"),
    [("spamming", " Reason: spamming"), ("", "")],
)
def test_blocked(reason: str, suffix: str) -> None:
    expected = f"You have been blocked from generating images in this server by its admins.{suffix}"
    assert _decide(limits=replace(LIMITS, blocked=reason)) == expected


# Every check failing at once; lifting them one by one shows the order they are reported in.
ALL_FAILING = (
    Limits(daily=10, max_active=3, cooldown_s=5.0, guild_budget=100, blocked="spamming"),
    Usage(used_today=10, active=3, last_request_at=NOW - timedelta(seconds=1), guild_used_today=100),
)


@pytest.mark.parametrize(
    ("lifted", "starts_with"),
    [
        ((), "You have been blocked"),
        (("blocked",), "You have used all 10"),
        (("blocked", "daily"), "This server has used its 100"),
        (("blocked", "daily", "budget"), "You already have 3 jobs"),
        (("blocked", "daily", "budget", "active"), "Please wait 4 more seconds"),
        (("blocked", "daily", "budget", "active", "cooldown"), None),
    ],
)
def test_reasons_come_in_order(lifted: tuple[str, ...], starts_with: str | None) -> None:
    limits, usage = ALL_FAILING
    if "blocked" in lifted:
        limits = replace(limits, blocked=None)
    if "daily" in lifted:
        usage = replace(usage, used_today=0)
    if "budget" in lifted:
        usage = replace(usage, guild_used_today=0)
    if "active" in lifted:
        usage = replace(usage, active=0)
    if "cooldown" in lifted:
        usage = replace(usage, last_request_at=None)
    reason = decide(limits, usage, 1, NOW, RESETS)
    if starts_with is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(starts_with), reason
