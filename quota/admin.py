"""What `/quota` and the admins' `/quotas` commands do, with every change in the audit log.

The services return data (``QuotaStatus``, ``QuotaOverview``, ``LimitChange``, ...); what the
member reads is written in ``core.quota_text``. Only the audit log's reasons are worded here:
they are stored data that ``/mod audit`` shows, and keep the wording they always had.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.text import Message, Text, t
from moderation.admin import Actor
from moderation.audit import AuditTrail
from quota.policy import UNLIMITED, LimitKind, QuotaAsk, QuotaOverrides, QuotaStatus
from quota.store import QuotaStore


@dataclass(frozen=True, slots=True)
class QuotaOverview:
    """A server's overrides, and the config's daily default they are set against."""

    overrides: QuotaOverrides
    default_daily: int


@dataclass(frozen=True, slots=True)
class LimitChange:
    """An override was set (``daily``; 0 = unlimited) or, with ``daily`` None, removed."""

    kind: LimitKind
    target_id: int  # the role's or member's id; 0 for SERVER and BUDGET
    daily: int | None


@dataclass(frozen=True, slots=True)
class UserReset:
    """A member's images for today and their cooldown were reset."""

    user_id: int


@dataclass(frozen=True, slots=True)
class BlockChange:
    """``blocked``: the member's state asked for; ``changed``: False when unblocking a member
    who was not blocked (blocking always changes: it replaces the reason)."""

    user_id: int
    blocked: bool
    changed: bool = True


def amount(daily: int | None) -> str:
    """A daily limit as admins set it: None = the default applies, 0 = unlimited."""
    return str(amount_text(daily))


def amount_text(daily: int | None) -> Text:
    if daily is None:
        return t("default")
    # i18n: A daily image limit, e.g. "5/day".
    return t("unlimited") if daily == UNLIMITED else t("{daily}/day", daily=daily)


def limit_summary(change: LimitChange) -> str:
    """A limit change in words: the audit log's reason (English), and what the admin reads after a mark."""
    return str(limit_summary_text(change))


def limit_summary_text(change: LimitChange) -> Text:
    whom: dict[LimitKind, Message] = {
        LimitKind.SERVER: t("Members of this server"),
        LimitKind.BUDGET: t("This server as a whole"),
        LimitKind.ROLE: t("Members with {role}", role=f"<@&{change.target_id}>"),
        LimitKind.USER: f"<@{change.target_id}>",
    }
    who = whom[change.kind]
    if change.daily is None:
        return t("{who}: override removed; the default applies again.", who=who)
    # i18n: {who} is "Members of this server", a role phrase or a member mention; {amount} is e.g. "5/day".
    return t("{who}: {amount}.", who=who, amount=amount_text(change.daily))


def reset_summary(reset: UserReset) -> str:
    return str(reset_summary_text(reset))


def reset_summary_text(reset: UserReset) -> Text:
    return t("{member}'s images for today and cooldown were reset.", member=f"<@{reset.user_id}>")


def block_summary(change: BlockChange) -> str:
    """A change of a member's block (``changed`` ones only: nothing else is logged)."""
    return str(block_summary_text(change))


def block_summary_text(change: BlockChange) -> Text:
    if change.blocked:
        return t("{member} can no longer generate images in this server.", member=f"<@{change.user_id}>")
    return t("{member} may generate images again.", member=f"<@{change.user_id}>")


class QuotaAdmin:
    def __init__(self, store: QuotaStore, audit: AuditTrail) -> None:
        self._store = store
        self._audit = audit

    async def status(self, ask: QuotaAsk) -> QuotaStatus:
        return await self._store.status(ask)

    async def overview(self, guild_id: int) -> QuotaOverview:
        return QuotaOverview(await self._store.overrides(guild_id), self._store.config.daily_images)

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

    async def set_limit(self, actor: Actor, kind: LimitKind, target_id: int, daily: int | None) -> LimitChange:
        """Set (or with None, remove) an override."""
        await self._store.set_limit(actor.guild_id, kind, target_id, daily, by=actor.user_id)
        change = LimitChange(kind, target_id, daily)
        await self._record(actor, f"set_{kind.value}", limit_summary(change), {"target": target_id, "daily": daily})
        return change

    async def reset_user(self, actor: Actor, user_id: int) -> UserReset:
        await self._store.reset_user(actor.guild_id, user_id)
        reset = UserReset(user_id)
        await self._record(actor, "reset_user", reset_summary(reset), {"target": user_id})
        return reset

    async def block(self, actor: Actor, user_id: int, reason: str) -> BlockChange:
        await self._store.block(actor.guild_id, user_id, reason, by=actor.user_id)
        change = BlockChange(user_id, blocked=True)
        await self._record(actor, "block_user", block_summary(change), {"target": user_id, "reason": reason})
        return change

    async def unblock(self, actor: Actor, user_id: int) -> BlockChange:
        if not await self._store.unblock(actor.guild_id, user_id):
            return BlockChange(user_id, blocked=False, changed=False)
        change = BlockChange(user_id, blocked=False)
        await self._record(actor, "unblock_user", block_summary(change), {"target": user_id})
        return change
