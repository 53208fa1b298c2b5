"""What members and admins read about quotas: ``quota.admin``'s data as Discord messages
(mentions, timestamps, bold), so the quota package itself never writes Discord markup."""

from __future__ import annotations

from quota.admin import (
    BlockChange,
    LimitChange,
    QuotaOverview,
    UserReset,
    amount,
    block_summary,
    limit_summary,
    reset_summary,
)
from quota.policy import QuotaStatus


def status_text(status: QuotaStatus, *, in_guild: bool) -> str:
    """`/quota`: images left, jobs in flight, cooldown; the server budget only in a server,
    since a DM has none."""
    limits = status.limits
    if limits.blocked is not None:
        why = f" Reason: {limits.blocked}" if limits.blocked else ""
        return f"⛔ You are blocked from generating images in this server.{why}"
    resets = f"<t:{int(status.resets_at.timestamp())}:R>"
    if status.remaining is None:
        lines = [f"🎟️ Images today: {status.used_today} made, no daily limit."]
    else:
        lines = [f"🎟️ Images left today: **{status.remaining}** of {limits.daily} (resets {resets})."]
    queued = f"Queued or running: {status.active}"
    if limits.max_active:
        queued += f" of at most {limits.max_active} at once"
    lines.append(queued + ".")
    if status.cooldown_left_s > 0:
        lines.append(f"Cooldown: {status.cooldown_left_s:.0f} s before your next request.")
    if in_guild and limits.guild_budget:
        left = max(limits.guild_budget - status.guild_used_today, 0)
        lines.append(f"This server has {left} of its {limits.guild_budget} daily images left.")
    return "\n".join(lines)


def overview_text(overview: QuotaOverview) -> str:
    """`/quotas show`: the server's overrides, each role and member mentioned."""
    overrides = overview.overrides
    lines = [
        f"**Daily images per member:** {amount(overrides.server_daily)} "
        f"(config default: {amount(overview.default_daily)})",
        f"**Server budget:** {amount(overrides.guild_budget)}",
    ]
    if overrides.roles:
        lines.append("**Roles:** " + ", ".join(f"<@&{r}> {amount(v)}" for r, v in overrides.roles.items()))
    if overrides.users:
        lines.append("**Members:** " + ", ".join(f"<@{u}> {amount(v)}" for u, v in overrides.users.items()))
    if overrides.blocked:
        lines.append("**Blocked:** " + ", ".join(f"<@{u}>" for u in overrides.blocked))
    return "\n".join(lines)


def limit_change_text(change: LimitChange) -> str:
    return f"✅ {limit_summary(change)}"


def user_reset_text(reset: UserReset) -> str:
    return f"✅ {reset_summary(reset)}"


def block_change_text(change: BlockChange) -> str:
    if change.blocked:
        return f"⛔ {block_summary(change)}"
    if not change.changed:
        return f"<@{change.user_id}> was not blocked."
    return f"✅ {block_summary(change)}"
