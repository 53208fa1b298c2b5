"""`/mod`: moderator settings. Hidden from members by default_member_permissions and
re-checked at run time, since server admins can override what Discord shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands

from core import moderation_text
from core.errors import NotAModerator
from core.i18n import render
from core.places import server_only
from core.requester import Requester
from core.text import t
from moderation.admin import Actor, ModerationAdmin
from moderation.policy import OverLimitAction
from prompt.ratings import Rating

if TYPE_CHECKING:
    from core.client import ImagineBot

RATING_CHOICES = [app_commands.Choice(name=r.label, value=r.label) for r in Rating]
ACTION_CHOICES = [
    app_commands.Choice(name="withhold (not posted; the member is told privately)", value="withhold"),
    app_commands.Choice(name="spoiler (posted blurred)", value="spoiler"),
]
SCOPE_CHOICES = [
    app_commands.Choice(name="this channel", value="channel"),
    app_commands.Choice(name="whole server", value="server"),
]


def _require(interaction: discord.Interaction, scope: str) -> Actor:
    """Server-wide changes need Manage Server; channel changes need Manage Channels."""
    requester = Requester.of(interaction)
    if requester.guild_id is None:
        raise NotAModerator(t("Moderator commands work in a server, not in DMs."))
    allowed = requester.manage_guild if scope == "server" else (requester.manage_channels or requester.manage_guild)
    if not allowed:
        if scope == "server":
            raise NotAModerator(t("You need the Manage Server permission to use this command."))
        raise NotAModerator(t("You need the Manage Channels permission to use this command."))
    return requester.actor


def _channel_scope(interaction: discord.Interaction, scope: str) -> int | None:
    if scope == "server":
        return None
    channel = interaction.channel
    # A thread follows its parent channel's settings, so settings are made there.
    parent = getattr(channel, "parent_id", None)
    return parent or interaction.channel_id


@server_only
@app_commands.default_permissions(manage_channels=True)
class ModGroup(app_commands.Group, name="mod", description="Moderator settings for image generation"):
    def __init__(self, bot: ImagineBot) -> None:
        super().__init__()
        self.bot = bot

    @property
    def admin(self) -> ModerationAdmin:
        return self.bot.context.moderation

    @app_commands.command(name="show", description="Show this server's and this channel's generation rules")
    async def show(self, interaction: discord.Interaction) -> None:
        actor = _require(interaction, "channel")
        overview = await self.admin.overview(actor.guild_id, _channel_scope(interaction, "channel") or 0)
        text = moderation_text.overview_text(overview, interaction.locale)
        await interaction.response.send_message(text, ephemeral=True)

    @app_commands.command(name="rating", description="Set the maximum and default rating")
    @app_commands.describe(
        scope="This channel or the whole server",
        maximum="Highest rating allowed (never above sensitive outside age-restricted channels)",
        default="Rating used when a member asks for none",
        over_limit="What to do when the output check rates an image above the maximum",
    )
    @app_commands.choices(
        scope=SCOPE_CHOICES, maximum=RATING_CHOICES, default=RATING_CHOICES, over_limit=ACTION_CHOICES
    )
    async def rating(
        self,
        interaction: discord.Interaction,
        scope: app_commands.Choice[str],
        maximum: app_commands.Choice[str] | None = None,
        default: app_commands.Choice[str] | None = None,
        over_limit: app_commands.Choice[str] | None = None,
    ) -> None:
        actor = _require(interaction, scope.value)
        change = await self.admin.set_rating(
            actor,
            _channel_scope(interaction, scope.value),
            maximum=Rating.parse(maximum.value) if maximum else None,
            default=Rating.parse(default.value) if default else None,
            over_limit=OverLimitAction(over_limit.value) if over_limit else None,
        )
        await interaction.response.send_message(
            moderation_text.rating_change_text(change, interaction.locale), ephemeral=True
        )

    @app_commands.command(name="reset", description="Clear the rating rules of this channel or the server")
    @app_commands.choices(scope=SCOPE_CHOICES)
    async def reset(self, interaction: discord.Interaction, scope: app_commands.Choice[str]) -> None:
        actor = _require(interaction, scope.value)
        reset = await self.admin.reset(actor, _channel_scope(interaction, scope.value))
        await interaction.response.send_message(
            moderation_text.rating_reset_text(reset, interaction.locale), ephemeral=True
        )

    @app_commands.command(name="block", description="Block a tag (aliases included)")
    @app_commands.choices(scope=SCOPE_CHOICES)
    async def block(
        self, interaction: discord.Interaction, tag: app_commands.Range[str, 1, 100], scope: app_commands.Choice[str]
    ) -> None:
        actor = _require(interaction, scope.value)
        change = await self.admin.block(actor, _channel_scope(interaction, scope.value), tag, add=True)
        await interaction.response.send_message(
            moderation_text.blocklist_change_text(change, interaction.locale), ephemeral=True
        )

    @app_commands.command(name="unblock", description="Remove a tag from the blocklist")
    @app_commands.choices(scope=SCOPE_CHOICES)
    async def unblock(
        self, interaction: discord.Interaction, tag: app_commands.Range[str, 1, 100], scope: app_commands.Choice[str]
    ) -> None:
        actor = _require(interaction, scope.value)
        change = await self.admin.block(actor, _channel_scope(interaction, scope.value), tag, add=False)
        await interaction.response.send_message(
            moderation_text.blocklist_change_text(change, interaction.locale), ephemeral=True
        )

    @app_commands.command(name="modlog", description="Post blocked attempts to a channel (leave empty to turn off)")
    async def modlog(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        actor = _require(interaction, "server")
        change = await self.admin.set_modlog(actor, channel.id if channel else None)
        await interaction.response.send_message(
            moderation_text.modlog_change_text(change, interaction.locale), ephemeral=True
        )

    @app_commands.command(name="audit", description="Recent audit log entries of this server")
    async def audit(self, interaction: discord.Interaction, count: app_commands.Range[int, 1, 25] = 10) -> None:
        actor = _require(interaction, "server")
        entries = await self.admin.recent(actor.guild_id, count)
        if not entries:
            await interaction.response.send_message(
                render(t("The audit log is empty."), interaction.locale), ephemeral=True
            )
            return
        lines = []
        for e in entries:
            when = discord.utils.format_dt(e.created_at, "R")
            what = e.reason or e.prompt
            # The entry's kind, decision and reason are the audit log's own words (English).
            entry = t(
                "`#{id}` {when} **{kind}** {decision} by {member}: {what}",
                id=e.id,
                when=when,
                kind=e.kind,
                decision=e.decision,
                member=f"<@{e.user_id}>",
                what=what[:150],
            )
            lines.append(render(entry, interaction.locale))
        text = "\n".join(lines)
        await interaction.response.send_message(text[:2000], ephemeral=True)


async def setup(bot: ImagineBot) -> None:
    bot.tree.add_command(ModGroup(bot))
