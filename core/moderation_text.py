"""What moderators read: ``moderation.admin``'s and the gate's data as Discord messages
(channel and member mentions, code spans, bold), so the moderation package itself never writes
Discord markup."""

from __future__ import annotations

from collections.abc import Iterable

from moderation.admin import (
    BlocklistChange,
    ModerationOverview,
    ModlogChange,
    RatingChange,
    RatingReset,
    settings_summary,
)
from moderation.gate import BlockedAttempt

NOTHING_TO_CHANGE = "Nothing to change: give a maximum, a default or an over-limit action."
NOT_A_TAG = "Give a tag, e.g. `spider` or `long_hair`."
ABOVE_SENSITIVE_NOTE = "Note: above `sensitive` only applies in age-restricted channels; Discord's rule wins elsewhere."
DISCORDS_RULE = "Discord's rule always applies: nothing above `sensitive` outside age-restricted channels."
MODLOG_PROMPT_CHARS = 1500  # with the reason, the post stays within Discord's 2000 characters


def _rules_scope(channel_id: int | None) -> str:
    return "server" if channel_id is None else f"<#{channel_id}>"


def _tags(tags: Iterable[str]) -> str:
    return ", ".join(f"`{t}`" for t in tags) or "none"


def rating_change_text(change: RatingChange | None) -> str:
    """`/mod rating`; None: the moderator gave no value to set."""
    if change is None:
        return NOTHING_TO_CHANGE
    note = f"\n{ABOVE_SENSITIVE_NOTE}" if change.note_above_sensitive else ""
    return (
        f"Rating rules of {_rules_scope(change.channel_id)}: "
        f"{settings_summary(change.before)} → {settings_summary(change.after)}.{note}"
    )


def rating_reset_text(reset: RatingReset) -> str:
    follows = "Discord's rule and the defaults" if reset.channel_id is None else "the server's rules"
    return (
        f"Rating rules of {_rules_scope(reset.channel_id)} cleared ({settings_summary(reset.before)}); "
        f"it now follows {follows}."
    )


def modlog_change_text(change: ModlogChange) -> str:
    if change.channel_id:
        return f"Blocked attempts will be posted in <#{change.channel_id}>."
    return "Mod-log posting is off."


def blocklist_change_text(change: BlocklistChange | None) -> str:
    """`/mod block` and `/mod unblock`; None: what was entered is no tag."""
    if change is None:
        return NOT_A_TAG
    tag = f"`{change.canonical}`"
    scope = "this server" if change.channel_id is None else f"<#{change.channel_id}>"
    if change.add:
        return f"{tag} is now blocked in {scope}." if change.changed else f"{tag} was already blocked."
    return f"{tag} is no longer blocked in {scope}." if change.changed else f"{tag} was not blocked there."


def overview_text(overview: ModerationOverview) -> str:
    """`/mod show`: the server's and this channel's rules, mod-log and blocklists."""
    modlog = f"<#{overview.modlog_channel_id}>" if overview.modlog_channel_id else "off"
    lines = [
        f"**Server:** {settings_summary(overview.server)}",
        f"**<#{overview.channel_id}>:** {settings_summary(overview.channel)}",
        f"**Mod-log:** {modlog}",
        f"**Blocked (server):** {_tags(overview.blocked_server)}",
        f"**Blocked (this channel):** {_tags(overview.blocked_channel)}",
        DISCORDS_RULE,
    ]
    return "\n".join(lines)


def blocked_attempt_text(attempt: BlockedAttempt) -> str:
    """The mod-log post; backticks in the prompt are swapped for a look-alike so they cannot
    end the code span early."""
    prompt = attempt.prompt[:MODLOG_PROMPT_CHARS].replace("`", "ˋ")
    return (
        f"🚫 Blocked `/imagine` by <@{attempt.user_id}> in <#{attempt.channel_id}>: {attempt.reason}\n"
        f"Prompt: `{prompt}`"
    )
