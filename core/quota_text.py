"""What members and admins read about quotas: ``quota.admin``'s data as Discord messages
(mentions, timestamps, bold), so the quota package itself never writes Discord markup."""

from __future__ import annotations

from core.i18n import render
from core.text import Message, lines, t
from quota.admin import (
    BlockChange,
    LimitChange,
    QuotaOverview,
    UserReset,
    amount_text,
    block_summary_text,
    limit_summary_text,
    reset_summary_text,
)
from quota.admin import (
    amount as amount,  # re-exported: the quota cog and its tests read it here
)
from quota.policy import QuotaStatus


def status_text(status: QuotaStatus, *, in_guild: bool, locale: object = "en-US") -> str:
    """`/quota`: images left, jobs in flight, cooldown; the server budget only in a server,
    since a DM has none. In the member's language."""
    return render(_status(status, in_guild=in_guild), locale)


def _status(status: QuotaStatus, *, in_guild: bool) -> Message:
    limits = status.limits
    if limits.blocked is not None:
        if limits.blocked:
            return t(
                "⛔ You are blocked from generating images in this server. Reason: {reason}", reason=limits.blocked
            )
        return t("⛔ You are blocked from generating images in this server.")
    resets = f"<t:{int(status.resets_at.timestamp())}:R>"
    parts: list[Message] = []
    if status.remaining is None:
        parts.append(t("🎟️ Images today: {used} made, no daily limit.", used=status.used_today))
    else:
        parts.append(
            # i18n: {when} is a Discord timestamp shown in the reader's language, e.g. "in 3 hours".
            t(
                "🎟️ Images left today: **{left}** of {daily} (resets {when}).",
                left=status.remaining,
                daily=limits.daily,
                when=resets,
            )
        )
    if limits.max_active:
        parts.append(
            t("Queued or running: {active} of at most {most} at once.", active=status.active, most=limits.max_active)
        )
    else:
        parts.append(t("Queued or running: {active}.", active=status.active))
    if status.cooldown_left_s > 0:
        parts.append(t("Cooldown: {seconds} s before your next request.", seconds=f"{status.cooldown_left_s:.0f}"))
    if in_guild and limits.guild_budget:
        left = max(limits.guild_budget - status.guild_used_today, 0)
        parts.append(
            t("This server has {left} of its {budget} daily images left.", left=left, budget=limits.guild_budget)
        )
    return lines(*parts)


def overview_text(overview: QuotaOverview, locale: object = "en-US") -> str:
    """`/quotas show`: the server's overrides, each role and member mentioned."""
    overrides = overview.overrides
    parts: list[Message] = [
        t(
            "**Daily images per member:** {daily} (config default: {default})",
            daily=amount_text(overrides.server_daily),
            default=amount_text(overview.default_daily),
        ),
        t("**Server budget:** {budget}", budget=amount_text(overrides.guild_budget)),
    ]
    if overrides.roles:
        roles = lines(
            *(lines(f"<@&{r}>", amount_text(v), separator=" ") for r, v in overrides.roles.items()), separator=", "
        )
        parts.append(t("**Roles:** {roles}", roles=roles))
    if overrides.users:
        users = lines(
            *(lines(f"<@{u}>", amount_text(v), separator=" ") for u, v in overrides.users.items()), separator=", "
        )
        parts.append(t("**Members:** {members}", members=users))
    if overrides.blocked:
        parts.append(t("**Blocked:** {members}", members=", ".join(f"<@{u}>" for u in overrides.blocked)))
    return render(lines(*parts), locale)


def limit_change_text(change: LimitChange, locale: object = "en-US") -> str:
    return "✅ " + render(limit_summary_text(change), locale)


def user_reset_text(reset: UserReset, locale: object = "en-US") -> str:
    return "✅ " + render(reset_summary_text(reset), locale)


def block_change_text(change: BlockChange, locale: object = "en-US") -> str:
    if change.blocked:
        return "⛔ " + render(block_summary_text(change), locale)
    if not change.changed:
        return render(t("{member} was not blocked.", member=f"<@{change.user_id}>"), locale)
    return "✅ " + render(block_summary_text(change), locale)
