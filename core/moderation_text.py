"""What moderators read: ``moderation.admin``'s and the gate's data as Discord messages
(channel and member mentions, code spans, bold), so the moderation package itself never writes
Discord markup."""

from __future__ import annotations

from collections.abc import Iterable

from core.i18n import render
from core.text import Message, lines, t
from moderation.admin import (
    BlocklistChange,
    ModerationOverview,
    ModlogChange,
    RatingChange,
    RatingReset,
    settings_summary_text,
)
from moderation.gate import BlockedAttempt

NOTHING_TO_CHANGE_TEXT = t("Nothing to change: give a maximum, a default or an over-limit action.")
NOT_A_TAG_TEXT = t("Give a tag, e.g. `spider` or `long_hair`.")
ABOVE_SENSITIVE_NOTE_TEXT = t(
    "Note: above `sensitive` only applies in age-restricted channels; Discord's rule wins elsewhere."
)
DISCORDS_RULE_TEXT = t("Discord's rule always applies: nothing above `sensitive` outside age-restricted channels.")
NOTHING_TO_CHANGE = str(NOTHING_TO_CHANGE_TEXT)
NOT_A_TAG = str(NOT_A_TAG_TEXT)
ABOVE_SENSITIVE_NOTE = str(ABOVE_SENSITIVE_NOTE_TEXT)
DISCORDS_RULE = str(DISCORDS_RULE_TEXT)
MODLOG_PROMPT_CHARS = 1500  # with the reason, the post stays within Discord's 2000 characters

# Each function takes the reader's Discord locale: the moderator's own (``interaction.locale``)
# for a command's answer, the server's (``guild_locale``) for a mod-log post. English by default.


def _rules_scope(channel_id: int | None) -> Message:
    return t("server") if channel_id is None else f"<#{channel_id}>"


def _tags(tags: Iterable[str]) -> Message:
    return ", ".join(f"`{tag}`" for tag in tags) or t("none")


def rating_change_text(change: RatingChange | None, locale: object = "en-US") -> str:
    """`/mod rating`; None: the moderator gave no value to set."""
    if change is None:
        return render(NOTHING_TO_CHANGE_TEXT, locale)
    # i18n: {scope} is a channel mention or the word "server"; {before} and {after} are rule summaries.
    text: Message = t(
        "Rating rules of {scope}: {before} → {after}.",
        scope=_rules_scope(change.channel_id),
        before=settings_summary_text(change.before),
        after=settings_summary_text(change.after),
    )
    if change.note_above_sensitive:
        text = lines(text, ABOVE_SENSITIVE_NOTE_TEXT)
    return render(text, locale)


def rating_reset_text(reset: RatingReset, locale: object = "en-US") -> str:
    scope, before = _rules_scope(reset.channel_id), settings_summary_text(reset.before)
    if reset.channel_id is None:
        text = t(
            "Rating rules of {scope} cleared ({before}); it now follows Discord's rule and the defaults.",
            scope=scope,
            before=before,
        )
    else:
        text = t(
            "Rating rules of {scope} cleared ({before}); it now follows the server's rules.", scope=scope, before=before
        )
    return render(text, locale)


def modlog_change_text(change: ModlogChange, locale: object = "en-US") -> str:
    if change.channel_id:
        return render(t("Blocked attempts will be posted in {channel}.", channel=f"<#{change.channel_id}>"), locale)
    return render(t("Mod-log posting is off."), locale)


def blocklist_change_text(change: BlocklistChange | None, locale: object = "en-US") -> str:
    """`/mod block` and `/mod unblock`; None: what was entered is no tag."""
    if change is None:
        return render(NOT_A_TAG_TEXT, locale)
    tag = f"`{change.canonical}`"
    scope: Message = t("this server") if change.channel_id is None else f"<#{change.channel_id}>"
    if change.add:
        if change.changed:
            # i18n: {tag} is a Danbooru tag in backticks; {scope} is a channel mention or "this server".
            return render(t("{tag} is now blocked in {scope}.", tag=tag, scope=scope), locale)
        return render(t("{tag} was already blocked.", tag=tag), locale)
    if change.changed:
        return render(t("{tag} is no longer blocked in {scope}.", tag=tag, scope=scope), locale)
    return render(t("{tag} was not blocked there.", tag=tag), locale)


def overview_text(overview: ModerationOverview, locale: object = "en-US") -> str:
    """`/mod show`: the server's and this channel's rules, mod-log and blocklists."""
    modlog: Message = f"<#{overview.modlog_channel_id}>" if overview.modlog_channel_id else t("off")
    text = lines(
        t("**Server:** {rules}", rules=settings_summary_text(overview.server)),
        t("**{channel}:** {rules}", channel=f"<#{overview.channel_id}>", rules=settings_summary_text(overview.channel)),
        t("**Mod-log:** {channel}", channel=modlog),
        t("**Blocked (server):** {tags}", tags=_tags(overview.blocked_server)),
        t("**Blocked (this channel):** {tags}", tags=_tags(overview.blocked_channel)),
        DISCORDS_RULE_TEXT,
    )
    return render(text, locale)


def blocked_attempt_text(attempt: BlockedAttempt, locale: object = "en-US") -> str:
    """The mod-log post, in the server's language; backticks in the prompt are swapped for a
    look-alike so they cannot end the code span early."""
    prompt = attempt.prompt[:MODLOG_PROMPT_CHARS].replace("`", "ˋ")
    text = lines(
        # i18n: {member} and {channel} are mentions; {reason} is the refusal the member was told, already translated.
        t(
            "🚫 Blocked `/imagine` by {member} in {channel}: {reason}",
            member=f"<@{attempt.user_id}>",
            channel=f"<#{attempt.channel_id}>",
            reason=attempt.text or attempt.reason,
        ),
        t("Prompt: `{prompt}`", prompt=prompt),
    )
    return render(text, locale)
