"""The moderation texts moderators read and the mod-log post, pinned character for character
(backticks, bold, channel and member mentions)."""

from __future__ import annotations

import pytest

from core.moderation_text import (
    blocked_attempt_text,
    blocklist_change_text,
    modlog_change_text,
    overview_text,
    rating_change_text,
    rating_reset_text,
)
from moderation.admin import BlocklistChange, ModerationOverview, ModlogChange, RatingChange, RatingReset
from moderation.admin import settings_summary as settings_text
from moderation.gate import BlockedAttempt
from moderation.policy import OverLimitAction, PolicySettings
from prompt.ratings import Rating

UNSET = PolicySettings()
STRICT = PolicySettings(max_rating=Rating.GENERAL, default_rating=Rating.GENERAL)
ADULT = PolicySettings(
    max_rating=Rating.EXPLICIT, default_rating=Rating.SENSITIVE, over_limit_action=OverLimitAction.SPOILER
)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (UNSET, "max `not set`, default `not set`, over-limit images: `not set`"),
        (STRICT, "max `general`, default `general`, over-limit images: `not set`"),
        (ADULT, "max `explicit`, default `sensitive`, over-limit images: `spoiler`"),
    ],
)
def test_settings(settings: PolicySettings, expected: str) -> None:
    assert settings_text(settings) == expected


def test_a_server_rating_change() -> None:
    assert rating_change_text(RatingChange(None, UNSET, STRICT)) == (
        "Rating rules of server: max `not set`, default `not set`, over-limit images: `not set` → "
        "max `general`, default `general`, over-limit images: `not set`."
    )


def test_a_channel_rating_change_above_sensitive_carries_the_note() -> None:
    assert rating_change_text(RatingChange(20, STRICT, ADULT, note_above_sensitive=True)) == (
        "Rating rules of <#20>: max `general`, default `general`, over-limit images: `not set` → "
        "max `explicit`, default `sensitive`, over-limit images: `spoiler`.\n"
        "Note: above `sensitive` only applies in age-restricted channels; Discord's rule wins elsewhere."
    )


def test_a_rating_change_with_nothing_given() -> None:
    assert rating_change_text(None) == "Nothing to change: give a maximum, a default or an over-limit action."


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        (
            RatingReset(None, STRICT),
            "Rating rules of server cleared (max `general`, default `general`, over-limit images: `not set`); "
            "it now follows Discord's rule and the defaults.",
        ),
        (
            RatingReset(20, UNSET),
            "Rating rules of <#20> cleared (max `not set`, default `not set`, over-limit images: `not set`); "
            "it now follows the server's rules.",
        ),
    ],
)
def test_rating_resets(reset: RatingReset, expected: str) -> None:
    assert rating_reset_text(reset) == expected


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (ModlogChange(99), "Blocked attempts will be posted in <#99>."),
        (ModlogChange(None), "Mod-log posting is off."),
    ],
)
def test_modlog_changes(change: ModlogChange, expected: str) -> None:
    assert modlog_change_text(change) == expected


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (BlocklistChange("long_hair", None, add=True, changed=True), "`long_hair` is now blocked in this server."),
        (BlocklistChange("spider", 20, add=True, changed=True), "`spider` is now blocked in <#20>."),
        (BlocklistChange("spider", 20, add=True, changed=False), "`spider` was already blocked."),
        (BlocklistChange("spider", None, add=False, changed=True), "`spider` is no longer blocked in this server."),
        (BlocklistChange("spider", 20, add=False, changed=True), "`spider` is no longer blocked in <#20>."),
        (BlocklistChange("spider", 20, add=False, changed=False), "`spider` was not blocked there."),
        (None, "Give a tag, e.g. `spider` or `long_hair`."),
    ],
)
def test_blocklist_changes(change: BlocklistChange | None, expected: str) -> None:
    assert blocklist_change_text(change) == expected


def test_overview_of_a_server_without_settings() -> None:
    assert overview_text(ModerationOverview(20, UNSET, UNSET, None, (), ())) == (
        "**Server:** max `not set`, default `not set`, over-limit images: `not set`\n"
        "**<#20>:** max `not set`, default `not set`, over-limit images: `not set`\n"
        "**Mod-log:** off\n"
        "**Blocked (server):** none\n"
        "**Blocked (this channel):** none\n"
        "Discord's rule always applies: nothing above `sensitive` outside age-restricted channels."
    )


def test_overview_with_settings_modlog_and_blocklists() -> None:
    overview = ModerationOverview(20, STRICT, ADULT, 99, ("long_hair", "spider"), ("bug",))
    assert overview_text(overview) == (
        "**Server:** max `general`, default `general`, over-limit images: `not set`\n"
        "**<#20>:** max `explicit`, default `sensitive`, over-limit images: `spoiler`\n"
        "**Mod-log:** <#99>\n"
        "**Blocked (server):** `long_hair`, `spider`\n"
        "**Blocked (this channel):** `bug`\n"
        "Discord's rule always applies: nothing above `sensitive` outside age-restricted channels."
    )


def test_the_modlog_post_of_a_blocked_attempt() -> None:
    attempt = BlockedAttempt(user_id=1, channel_id=20, reason="Not here.", prompt="1girl, nude")
    assert blocked_attempt_text(attempt) == ("🚫 Blocked `/imagine` by <@1> in <#20>: Not here.\nPrompt: `1girl, nude`")


def test_the_modlog_post_cuts_long_prompts_and_defuses_backticks() -> None:
    # A backtick would end the code span early; a look-alike (U+02CB) keeps the prompt in it.
    attempt = BlockedAttempt(user_id=1, channel_id=20, reason="No.", prompt="a`b" + "x" * 2000)
    text = blocked_attempt_text(attempt)
    assert text == "🚫 Blocked `/imagine` by <@1> in <#20>: No.\nPrompt: `aˋb" + "x" * 1497 + "`"
