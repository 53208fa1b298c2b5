"""`/quota` for members and `/quotas` for admins (hidden from members by
default_member_permissions and re-checked at run time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core import quota_text
from core.errors import NotAnAdmin
from core.places import anywhere, server_only
from core.requester import Requester
from core.text import t
from moderation.admin import Actor
from quota.policy import LimitKind

if TYPE_CHECKING:
    from core.client import ImagineBot

MAX_DAILY = 100_000
Daily = app_commands.Range[int, 0, MAX_DAILY]


def _require_admin(interaction: discord.Interaction) -> Actor:
    requester = Requester.of(interaction)
    if requester.guild_id is None:
        raise NotAnAdmin(t("Quota settings are per server; use this command in a server."))
    if not requester.manage_guild:
        raise NotAnAdmin(t("You need the Manage Server permission to change quotas."))
    return requester.actor


class QuotaCog(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @anywhere
    @app_commands.command(name="quota", description="Your images left today, your queued jobs and when it resets")
    async def quota(self, interaction: discord.Interaction) -> None:
        ask = Requester.of(interaction).quota_ask()
        status = await self.bot.context.quotas.status(ask)
        text = quota_text.status_text(status, in_guild=ask.guild_id is not None, locale=interaction.locale)
        await interaction.response.send_message(text, ephemeral=True)


@server_only
@app_commands.default_permissions(manage_guild=True)
class QuotasGroup(app_commands.Group, name="quotas", description="Admin: image quotas of this server"):
    def __init__(self, bot: ImagineBot) -> None:
        super().__init__()
        self.bot = bot

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())

    @app_commands.command(name="show", description="This server's quota settings and overrides")
    async def show(self, interaction: discord.Interaction) -> None:
        actor = _require_admin(interaction)
        overview = await self.bot.context.quotas.overview(actor.guild_id)
        await self._reply(interaction, quota_text.overview_text(overview, interaction.locale))

    @app_commands.command(name="server", description="Daily images per member and the server budget (omit to reset)")
    @app_commands.describe(
        daily="Images per member per day (0 = unlimited)", budget="Images per day for the whole server (0 = none)"
    )
    async def server(
        self, interaction: discord.Interaction, daily: Daily | None = None, budget: Daily | None = None
    ) -> None:
        actor = _require_admin(interaction)
        admin = self.bot.context.quotas
        both = daily is None and budget is None  # nothing given: back to the config defaults
        changes = []
        if daily is not None or both:
            changes.append(await admin.set_limit(actor, LimitKind.SERVER, 0, daily))
        if budget is not None or both:
            changes.append(await admin.set_limit(actor, LimitKind.BUDGET, 0, budget))
        await self._reply(interaction, "\n".join(quota_text.limit_change_text(c, interaction.locale) for c in changes))

    @app_commands.command(name="role", description="Daily images for members with a role (omit daily to remove)")
    @app_commands.describe(daily="Images per day (0 = unlimited); the most generous of a member's roles applies")
    async def role(self, interaction: discord.Interaction, role: discord.Role, daily: Daily | None = None) -> None:
        actor = _require_admin(interaction)
        change = await self.bot.context.quotas.set_limit(actor, LimitKind.ROLE, role.id, daily)
        await self._reply(interaction, quota_text.limit_change_text(change, interaction.locale))

    @app_commands.command(name="user", description="Daily images for one member (omit daily to remove)")
    @app_commands.describe(daily="Images per day (0 = unlimited); wins over roles and the server value")
    async def user(self, interaction: discord.Interaction, member: discord.Member, daily: Daily | None = None) -> None:
        actor = _require_admin(interaction)
        change = await self.bot.context.quotas.set_limit(actor, LimitKind.USER, member.id, daily)
        await self._reply(interaction, quota_text.limit_change_text(change, interaction.locale))

    @app_commands.command(name="reset", description="Give a member today's images back and clear their cooldown")
    async def reset(self, interaction: discord.Interaction, member: discord.Member) -> None:
        actor = _require_admin(interaction)
        reset = await self.bot.context.quotas.reset_user(actor, member.id)
        await self._reply(interaction, quota_text.user_reset_text(reset, interaction.locale))

    @app_commands.command(name="block", description="Stop a member from generating images in this server")
    async def block(
        self, interaction: discord.Interaction, member: discord.Member, reason: app_commands.Range[str, 0, 200] = ""
    ) -> None:
        actor = _require_admin(interaction)
        change = await self.bot.context.quotas.block(actor, member.id, reason)
        await self._reply(interaction, quota_text.block_change_text(change, interaction.locale))

    @app_commands.command(name="unblock", description="Let a blocked member generate images again")
    async def unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        actor = _require_admin(interaction)
        change = await self.bot.context.quotas.unblock(actor, member.id)
        await self._reply(interaction, quota_text.block_change_text(change, interaction.locale))


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(QuotaCog(bot))
    bot.tree.add_command(QuotasGroup(bot))
