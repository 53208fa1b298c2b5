"""What moderator commands do: change settings, with before/after in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from moderation.audit import AuditRecord, AuditTrail
from moderation.policy import SERVER_WIDE, OverLimitAction, PolicySettings
from moderation.stores import PolicyStore
from prompt.ratings import Rating

Canonicalizer = Callable[[str], str]


def _label(rating: Rating | None) -> str:
    return rating.label if rating is not None else "not set"


def describe(settings: PolicySettings) -> str:
    return (
        f"max `{_label(settings.max_rating)}`, default `{_label(settings.default_rating)}`, "
        f"over-limit images: `{settings.over_limit_action or 'not set'}`"
    )


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    guild_id: int
    channel_id: int


class ModerationAdmin:
    def __init__(self, policies: PolicyStore, audit: AuditTrail, canonicalize: Canonicalizer) -> None:
        self._policies = policies
        self._audit = audit
        self._canonicalize = canonicalize

    async def _policy_changed(
        self, actor: Actor, channel_id: int | None, decision: str, reason: str, details: dict[str, object]
    ) -> None:
        """Every policy change goes to the audit log: who, what, before and after."""
        await self._audit.record(
            "policy",
            user_id=actor.user_id,
            guild_id=actor.guild_id,
            channel_id=channel_id,
            decision=decision,
            reason=reason,
            details=details,
        )

    async def _settings(self, actor: Actor, channel_id: int | None) -> PolicySettings:
        guild = await self._policies.guild(actor.guild_id)
        return guild.server if channel_id is None else guild.channel(channel_id)

    async def set_rating(
        self,
        actor: Actor,
        channel_id: int | None,
        *,
        maximum: Rating | None = None,
        default: Rating | None = None,
        over_limit: OverLimitAction | None = None,
    ) -> str:
        """Set the server's (channel_id None) or a channel's rules; returns what changed."""
        values: dict[str, object] = {}
        if maximum is not None:
            values["max_rating"] = int(maximum)
        if default is not None:
            values["default_rating"] = int(default)
        if over_limit is not None:
            values["over_limit_action"] = over_limit.value
        if not values:
            return "Nothing to change: give a maximum, a default or an over-limit action."
        before = await self._settings(actor, channel_id)
        if channel_id is None:
            await self._policies.set_server(actor.guild_id, **values)
        else:
            await self._policies.set_channel(actor.guild_id, channel_id, **values)
        after = await self._settings(actor, channel_id)
        scope = "server" if channel_id is None else f"<#{channel_id}>"
        await self._policy_changed(
            actor,
            channel_id,
            "changed",
            f"rating rules of {scope}",
            {"before": describe(before), "after": describe(after)},
        )
        note = ""
        if maximum is not None and maximum > Rating.SENSITIVE:
            note = "\nNote: above `sensitive` only applies in age-restricted channels; Discord's rule wins elsewhere."
        return f"Rating rules of {scope}: {describe(before)} → {describe(after)}.{note}"

    async def reset(self, actor: Actor, channel_id: int | None) -> str:
        """Clear the rating rules of the server or a channel (the channel then follows the server)."""
        before = await self._settings(actor, channel_id)
        cleared: dict[str, object] = {"max_rating": None, "default_rating": None, "over_limit_action": None}
        if channel_id is None:
            await self._policies.set_server(actor.guild_id, **cleared)
        else:
            await self._policies.set_channel(actor.guild_id, channel_id, **cleared)
        scope = "server" if channel_id is None else f"<#{channel_id}>"
        await self._policy_changed(
            actor,
            channel_id,
            "reset",
            f"rating rules of {scope}",
            {"before": describe(before), "after": describe(PolicySettings())},
        )
        follows = "Discord's rule and the defaults" if channel_id is None else "the server's rules"
        return f"Rating rules of {scope} cleared ({describe(before)}); it now follows {follows}."

    async def set_modlog(self, actor: Actor, channel_id: int | None) -> str:
        before = (await self._policies.guild(actor.guild_id)).modlog_channel_id
        await self._policies.set_server(actor.guild_id, modlog_channel_id=channel_id)
        await self._policy_changed(
            actor,
            None,
            "changed",
            "mod-log channel",
            {"before": before, "after": channel_id},
        )
        return f"Blocked attempts will be posted in <#{channel_id}>." if channel_id else "Mod-log posting is off."

    async def block(self, actor: Actor, channel_id: int | None, tag: str, *, add: bool) -> str:
        canonical = self._canonicalize(tag)
        if not canonical:
            return "Give a tag, e.g. `spider` or `long_hair`."
        scope_id = SERVER_WIDE if channel_id is None else channel_id
        scope = "this server" if channel_id is None else f"<#{channel_id}>"
        if add:
            changed = await self._policies.block(actor.guild_id, scope_id, canonical, actor.user_id)
        else:
            changed = await self._policies.unblock(actor.guild_id, scope_id, canonical)
        if changed:
            await self._policy_changed(
                actor,
                channel_id,
                "blocked" if add else "unblocked",
                f"blocklist of {scope}",
                {"tag": canonical, "entered": tag},
            )
        if add:
            return f"`{canonical}` is now blocked in {scope}." if changed else f"`{canonical}` was already blocked."
        return f"`{canonical}` is no longer blocked in {scope}." if changed else f"`{canonical}` was not blocked there."

    async def overview(self, guild_id: int, channel_id: int) -> str:
        guild = await self._policies.guild(guild_id)
        lines = [
            f"**Server:** {describe(guild.server)}",
            f"**<#{channel_id}>:** {describe(guild.channel(channel_id))}",
            f"**Mod-log:** {f'<#{guild.modlog_channel_id}>' if guild.modlog_channel_id else 'off'}",
            "**Blocked (server):** " + (", ".join(f"`{t}`" for t in sorted(guild.blocked_in(-1))) or "none"),
            "**Blocked (this channel):** "
            + (", ".join(f"`{t}`" for t in sorted(guild.blocklist.get(channel_id, frozenset()))) or "none"),
            "Discord's rule always applies: nothing above `sensitive` outside age-restricted channels.",
        ]
        return "\n".join(lines)

    async def recent(self, guild_id: int, limit: int) -> list[AuditRecord]:
        return await self._audit.recent(guild_id, limit)
