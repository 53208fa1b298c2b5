"""What moderator commands do: change settings, with before/after in the audit log.

The services return data (``RatingChange``, ``BlocklistChange``, ``ModerationOverview``, ...);
what the moderator reads is written in ``core.moderation_text``. Only the audit log's reasons
and details are worded here: they are stored data that ``/mod audit`` shows, and keep the
wording they always had.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.text import Message, Text, t
from moderation.audit import AuditRecord, AuditTrail
from moderation.policy import SERVER_WIDE, OverLimitAction, PolicySettings
from moderation.stores import PolicyStore
from prompt.ratings import Rating

Canonicalizer = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    guild_id: int
    channel_id: int


@dataclass(frozen=True, slots=True)
class RatingChange:
    """The rating rules of the server (``channel_id`` None) or a channel, before and after.
    ``note_above_sensitive``: the new maximum is above what Discord allows outside
    age-restricted channels, so it only applies in those."""

    channel_id: int | None
    before: PolicySettings
    after: PolicySettings
    note_above_sensitive: bool = False


@dataclass(frozen=True, slots=True)
class RatingReset:
    """The rating rules of the server (``channel_id`` None) or a channel were cleared."""

    channel_id: int | None
    before: PolicySettings


@dataclass(frozen=True, slots=True)
class ModlogChange:
    """Where blocked attempts are posted now; None = nowhere."""

    channel_id: int | None


@dataclass(frozen=True, slots=True)
class BlocklistChange:
    """A tag added to (``add``) or removed from a blocklist; ``changed`` False when it already
    was (or was not) there. ``channel_id`` None is the server-wide list."""

    canonical: str
    channel_id: int | None
    add: bool
    changed: bool


@dataclass(frozen=True, slots=True)
class ModerationOverview:
    """A server's rules as seen from one channel. Blocklists are sorted."""

    channel_id: int
    server: PolicySettings
    channel: PolicySettings
    modlog_channel_id: int | None
    blocked_server: tuple[str, ...]
    blocked_channel: tuple[str, ...]


def _label(rating: Rating | None) -> Message:
    return rating.label if rating is not None else t("not set")


def settings_summary(settings: PolicySettings) -> str:
    """Settings in words, as the audit log's details store them (English)."""
    return str(settings_summary_text(settings))


def settings_summary_text(settings: PolicySettings) -> Text:
    """Settings in words, as moderators read them (rating and action names stay as typed)."""
    return t(
        "max `{max}`, default `{default}`, over-limit images: `{action}`",
        max=_label(settings.max_rating),
        default=_label(settings.default_rating),
        action=settings.over_limit_action or t("not set"),
    )


def _rules_reason(channel_id: int | None) -> str:
    """The audit reason of a rating rules change (the wording the log has always had)."""
    return f"rating rules of {'server' if channel_id is None else f'<#{channel_id}>'}"


def _blocklist_reason(channel_id: int | None) -> str:
    """The audit reason of a blocklist change (the wording the log has always had)."""
    return f"blocklist of {'this server' if channel_id is None else f'<#{channel_id}>'}"


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
    ) -> RatingChange | None:
        """Set the server's (channel_id None) or a channel's rules; None when nothing was given."""
        values: dict[str, object] = {}
        if maximum is not None:
            values["max_rating"] = int(maximum)
        if default is not None:
            values["default_rating"] = int(default)
        if over_limit is not None:
            values["over_limit_action"] = over_limit.value
        if not values:
            return None
        before = await self._settings(actor, channel_id)
        if channel_id is None:
            await self._policies.set_server(actor.guild_id, **values)
        else:
            await self._policies.set_channel(actor.guild_id, channel_id, **values)
        after = await self._settings(actor, channel_id)
        await self._policy_changed(
            actor,
            channel_id,
            "changed",
            _rules_reason(channel_id),
            {"before": settings_summary(before), "after": settings_summary(after)},
        )
        above_sensitive = maximum is not None and maximum > Rating.SENSITIVE
        return RatingChange(channel_id, before, after, note_above_sensitive=above_sensitive)

    async def reset(self, actor: Actor, channel_id: int | None) -> RatingReset:
        """Clear the rating rules of the server or a channel (the channel then follows the server)."""
        before = await self._settings(actor, channel_id)
        cleared: dict[str, object] = {"max_rating": None, "default_rating": None, "over_limit_action": None}
        if channel_id is None:
            await self._policies.set_server(actor.guild_id, **cleared)
        else:
            await self._policies.set_channel(actor.guild_id, channel_id, **cleared)
        await self._policy_changed(
            actor,
            channel_id,
            "reset",
            _rules_reason(channel_id),
            {"before": settings_summary(before), "after": settings_summary(PolicySettings())},
        )
        return RatingReset(channel_id, before)

    async def set_modlog(self, actor: Actor, channel_id: int | None) -> ModlogChange:
        before = (await self._policies.guild(actor.guild_id)).modlog_channel_id
        await self._policies.set_server(actor.guild_id, modlog_channel_id=channel_id)
        await self._policy_changed(
            actor,
            None,
            "changed",
            "mod-log channel",
            {"before": before, "after": channel_id},
        )
        return ModlogChange(channel_id)

    async def block(self, actor: Actor, channel_id: int | None, tag: str, *, add: bool) -> BlocklistChange | None:
        """Add a tag to (or remove it from) a blocklist; None when ``tag`` names no tag."""
        canonical = self._canonicalize(tag)
        if not canonical:
            return None
        scope_id = SERVER_WIDE if channel_id is None else channel_id
        if add:
            changed = await self._policies.block(actor.guild_id, scope_id, canonical, actor.user_id)
        else:
            changed = await self._policies.unblock(actor.guild_id, scope_id, canonical)
        if changed:
            await self._policy_changed(
                actor,
                channel_id,
                "blocked" if add else "unblocked",
                _blocklist_reason(channel_id),
                {"tag": canonical, "entered": tag},
            )
        return BlocklistChange(canonical, channel_id, add=add, changed=changed)

    async def overview(self, guild_id: int, channel_id: int) -> ModerationOverview:
        guild = await self._policies.guild(guild_id)
        return ModerationOverview(
            channel_id=channel_id,
            server=guild.server,
            channel=guild.channel(channel_id),
            modlog_channel_id=guild.modlog_channel_id,
            blocked_server=tuple(sorted(guild.blocklist.get(SERVER_WIDE, frozenset()))),
            blocked_channel=tuple(sorted(guild.blocklist.get(channel_id, frozenset()))),
        )

    async def recent(self, guild_id: int, limit: int) -> list[AuditRecord]:
        return await self._audit.recent(guild_id, limit)
