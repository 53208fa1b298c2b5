"""What `/quota` and the admins' `/quotas` commands do, with every change in the audit log."""

from __future__ import annotations

from moderation.admin import Actor
from moderation.audit import AuditTrail
from quota.policy import UNLIMITED, LimitKind, QuotaAsk, QuotaOverrides, QuotaStatus
from quota.store import QuotaStore


def _amount(daily: int | None) -> str:
    if daily is None:
        return "default"
    return "unlimited" if daily == UNLIMITED else f"{daily}/day"


def describe_status(status: QuotaStatus, *, in_guild: bool) -> str:
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


def describe_overrides(overrides: QuotaOverrides, default_daily: int) -> str:
    lines = [
        f"**Daily images per member:** {_amount(overrides.server_daily)} (config default: {_amount(default_daily)})",
        f"**Server budget:** {_amount(overrides.guild_budget)}",
    ]
    if overrides.roles:
        lines.append("**Roles:** " + ", ".join(f"<@&{r}> {_amount(v)}" for r, v in overrides.roles.items()))
    if overrides.users:
        lines.append("**Members:** " + ", ".join(f"<@{u}> {_amount(v)}" for u, v in overrides.users.items()))
    if overrides.blocked:
        lines.append("**Blocked:** " + ", ".join(f"<@{u}>" for u in overrides.blocked))
    return "\n".join(lines)


class QuotaAdmin:
    def __init__(self, store: QuotaStore, audit: AuditTrail) -> None:
        self._store = store
        self._audit = audit

    async def status(self, ask: QuotaAsk) -> str:
        return describe_status(await self._store.status(ask), in_guild=ask.guild_id is not None)

    async def overview(self, guild_id: int) -> str:
        return describe_overrides(await self._store.overrides(guild_id), self._store.config.daily_images)

    async def _record(self, actor: Actor, decision: str, reason: str, details: dict[str, object]) -> None:
        await self._audit.record(
            "quota",
            user_id=actor.user_id,
            guild_id=actor.guild_id,
            channel_id=actor.channel_id,
            decision=decision,
            reason=reason,
            details=details,
        )

    async def set_limit(self, actor: Actor, kind: LimitKind, target_id: int, daily: int | None) -> str:
        """Set (or with None, remove) an override; returns what the admin is told."""
        await self._store.set_limit(actor.guild_id, kind, target_id, daily, by=actor.user_id)
        who = {
            LimitKind.SERVER: "Members of this server",
            LimitKind.BUDGET: "This server as a whole",
            LimitKind.ROLE: f"Members with <@&{target_id}>",
            LimitKind.USER: f"<@{target_id}>",
        }[kind]
        text = f"{who}: override removed; the default applies again." if daily is None else f"{who}: {_amount(daily)}."
        await self._record(actor, f"set_{kind.value}", text, {"target": target_id, "daily": daily})
        return "✅ " + text

    async def reset_user(self, actor: Actor, user_id: int) -> str:
        await self._store.reset_user(actor.guild_id, user_id)
        text = f"<@{user_id}>'s images for today and cooldown were reset."
        await self._record(actor, "reset_user", text, {"target": user_id})
        return "✅ " + text

    async def block(self, actor: Actor, user_id: int, reason: str) -> str:
        await self._store.block(actor.guild_id, user_id, reason, by=actor.user_id)
        text = f"<@{user_id}> can no longer generate images in this server."
        await self._record(actor, "block_user", text, {"target": user_id, "reason": reason})
        return "⛔ " + text

    async def unblock(self, actor: Actor, user_id: int) -> str:
        if not await self._store.unblock(actor.guild_id, user_id):
            return f"<@{user_id}> was not blocked."
        text = f"<@{user_id}> may generate images again."
        await self._record(actor, "unblock_user", text, {"target": user_id})
        return "✅ " + text
