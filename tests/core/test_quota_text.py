"""The quota texts members and admins read, pinned character for character (emoji, bold,
mentions, timestamps): the e2e tests and the members' habits depend on them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.quota_text import (
    amount,
    block_change_text,
    limit_change_text,
    overview_text,
    status_text,
    user_reset_text,
)
from quota.admin import BlockChange, LimitChange, QuotaOverview, UserReset
from quota.policy import LimitKind, Limits, QuotaOverrides, QuotaStatus

RESETS = datetime(2024, 1, 2, tzinfo=UTC)  # <t:1704153600:R>


def _status(
    *,
    daily: int = 10,
    used: int = 7,
    active: int = 1,
    max_active: int = 3,
    budget: int = 0,
    guild_used: int = 0,
    cooldown_left: float = 0.0,
    blocked: str | None = None,
) -> QuotaStatus:
    limits = Limits(daily=daily, max_active=max_active, cooldown_s=5.0, guild_budget=budget, blocked=blocked)
    return QuotaStatus(limits, used, active, guild_used, RESETS, cooldown_left)


@pytest.mark.parametrize(("daily", "expected"), [(None, "default"), (0, "unlimited"), (1, "1/day"), (250, "250/day")])
def test_amount(daily: int | None, expected: str) -> None:
    assert amount(daily) == expected


def test_status_with_a_daily_limit() -> None:
    assert status_text(_status(), in_guild=True) == (
        "🎟️ Images left today: **3** of 10 (resets <t:1704153600:R>).\nQueued or running: 1 of at most 3 at once."
    )


def test_status_without_limits_names_what_was_made() -> None:
    assert status_text(_status(daily=0, used=12, active=0, max_active=0), in_guild=True) == (
        "🎟️ Images today: 12 made, no daily limit.\nQueued or running: 0."
    )


def test_status_with_cooldown_and_server_budget() -> None:
    status = _status(used=12, cooldown_left=3.6, budget=100, guild_used=40)
    assert status_text(status, in_guild=True) == (
        "🎟️ Images left today: **0** of 10 (resets <t:1704153600:R>).\n"
        "Queued or running: 1 of at most 3 at once.\n"
        "Cooldown: 4 s before your next request.\n"
        "This server has 60 of its 100 daily images left."
    )


def test_status_in_a_dm_leaves_out_the_server_budget() -> None:
    status = _status(budget=100, guild_used=140)
    assert status_text(status, in_guild=False) == (
        "🎟️ Images left today: **3** of 10 (resets <t:1704153600:R>).\nQueued or running: 1 of at most 3 at once."
    )
    assert status_text(status, in_guild=True).endswith("\nThis server has 0 of its 100 daily images left.")


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("spam", "⛔ You are blocked from generating images in this server. Reason: spam"),
        ("", "⛔ You are blocked from generating images in this server."),
    ],
)
def test_a_blocked_members_status_says_only_that(reason: str, expected: str) -> None:
    assert status_text(_status(blocked=reason, budget=100), in_guild=True) == expected


def test_overview_without_overrides() -> None:
    assert overview_text(QuotaOverview(QuotaOverrides(), default_daily=50)) == (
        "**Daily images per member:** default (config default: 50/day)\n**Server budget:** default"
    )


def test_overview_with_every_kind_of_override() -> None:
    overrides = QuotaOverrides(
        server_daily=0,
        guild_budget=500,
        roles={5: 0, 6: 20},
        users={8: 2, 9: 0},
        blocked={8: "spam", 11: ""},
    )
    assert overview_text(QuotaOverview(overrides, default_daily=0)) == (
        "**Daily images per member:** unlimited (config default: unlimited)\n"
        "**Server budget:** 500/day\n"
        "**Roles:** <@&5> unlimited, <@&6> 20/day\n"
        "**Members:** <@8> 2/day, <@9> unlimited\n"
        "**Blocked:** <@8>, <@11>"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (LimitChange(LimitKind.SERVER, 0, 5), "✅ Members of this server: 5/day."),
        (LimitChange(LimitKind.BUDGET, 0, 0), "✅ This server as a whole: unlimited."),
        (LimitChange(LimitKind.ROLE, 5, 20), "✅ Members with <@&5>: 20/day."),
        (LimitChange(LimitKind.USER, 8, 0), "✅ <@8>: unlimited."),
        (
            LimitChange(LimitKind.SERVER, 0, None),
            "✅ Members of this server: override removed; the default applies again.",
        ),
        (
            LimitChange(LimitKind.BUDGET, 0, None),
            "✅ This server as a whole: override removed; the default applies again.",
        ),
        (LimitChange(LimitKind.ROLE, 5, None), "✅ Members with <@&5>: override removed; the default applies again."),
        (LimitChange(LimitKind.USER, 8, None), "✅ <@8>: override removed; the default applies again."),
    ],
)
def test_limit_changes(change: LimitChange, expected: str) -> None:
    assert limit_change_text(change) == expected


def test_user_reset() -> None:
    assert user_reset_text(UserReset(8)) == "✅ <@8>'s images for today and cooldown were reset."


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (BlockChange(8, blocked=True), "⛔ <@8> can no longer generate images in this server."),
        (BlockChange(8, blocked=False), "✅ <@8> may generate images again."),
        (BlockChange(8, blocked=False, changed=False), "<@8> was not blocked."),
    ],
)
def test_block_changes(change: BlockChange, expected: str) -> None:
    assert block_change_text(change) == expected
