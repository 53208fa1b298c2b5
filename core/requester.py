"""Who asked, where: read once from an interaction, then handed to every layer below.

The layers below each take the slice they need (``moderation.gate.Where`` for the channel's
rules, ``jobs.model.Place`` for the job record, ``quota.policy.QuotaAsk`` for the quota,
``moderation.admin.Actor`` for admin changes); this is the one place that reads them off
Discord's objects, and the only name the Discord-facing code uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import discord

from jobs.model import Place
from jobs.scheduler import priority_of
from moderation.admin import Actor
from moderation.gate import Where
from quota.policy import QuotaAsk


def is_age_restricted(channel: object) -> bool:
    """Discord's age-restricted flag of the channel; a thread inherits its parent's, a DM has none."""
    if channel is None or isinstance(channel, discord.DMChannel | discord.GroupChannel):
        return False
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def is_user_install(interaction: discord.Interaction[Any]) -> bool:
    """Used through the member's own install, in a place the bot was not added to."""
    return interaction.is_user_integration() and not interaction.is_guild_integration()


def is_forced_private(interaction: discord.Interaction[Any]) -> bool:
    """A user install in a server that does not let members' apps post publicly: Discord then
    shows every answer only to the member (the member lacks Use External Apps there)."""
    return (
        is_user_install(interaction)
        and interaction.guild_id is not None
        and not interaction.permissions.use_external_apps
    )


@dataclass(frozen=True, slots=True)
class Requester:
    user_id: int
    user_name: str
    guild_id: int | None
    guild_name: str
    channel_id: int
    parent_id: int | None  # a thread's parent channel: its rules apply
    age_restricted: bool
    role_ids: tuple[int, ...] = ()
    role_names: tuple[str, ...] = ()
    manage_messages: bool = False
    manage_channels: bool = False
    manage_guild: bool = False
    locale: str = "en-US"
    # Through the member's own install where the bot is not (a DM, a group DM, another server):
    # no server there is ours, so it counts as no server (its own rules, one quota for all).
    user_install: bool = False

    @classmethod
    def of(cls, interaction: discord.Interaction[Any]) -> Requester:
        user_install = is_user_install(interaction)
        roles: Iterable[discord.Role] = () if user_install else getattr(interaction.user, "roles", ())
        roles = tuple(roles)
        guild = None if user_install else interaction.guild
        return cls(
            user_id=interaction.user.id,
            user_name=interaction.user.name,
            guild_id=None if user_install else interaction.guild_id,
            guild_name=guild.name if guild is not None else "",
            channel_id=interaction.channel_id or 0,
            parent_id=getattr(interaction.channel, "parent_id", None),
            age_restricted=is_age_restricted(interaction.channel),
            role_ids=tuple(role.id for role in roles),
            role_names=tuple(role.name for role in roles),
            manage_messages=interaction.permissions.manage_messages,
            manage_channels=interaction.permissions.manage_channels,
            manage_guild=interaction.permissions.manage_guild,
            locale=str(interaction.locale),
            user_install=user_install,
        )

    @property
    def where(self) -> Where:
        return Where(
            user_id=self.user_id,
            guild_id=self.guild_id,
            channel_id=self.channel_id,
            parent_id=self.parent_id,
            age_restricted=self.age_restricted,
            user_install=self.user_install,
        )

    @property
    def place(self) -> Place:
        return Place(
            user_id=self.user_id,
            user_name=self.user_name,
            guild_id=self.guild_id,
            guild_name=self.guild_name,
            channel_id=self.channel_id,
            channel_nsfw=self.age_restricted,
        )

    @property
    def actor(self) -> Actor:
        """The member as a server's admin or moderator (only in a server)."""
        assert self.guild_id is not None, "admin commands are refused in DMs first"
        return Actor(self.user_id, self.guild_id, self.channel_id)

    def quota_ask(self, images: int = 1) -> QuotaAsk:
        return QuotaAsk(user_id=self.user_id, guild_id=self.guild_id, role_ids=self.role_ids, images=images)

    def priority(self, priority_roles: Iterable[str]) -> int:
        return priority_of(self.role_names, self.role_ids, priority_roles)
