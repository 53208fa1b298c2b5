"""`/stats` for admins (Manage Server): this server's images, members served, average wait,
refusals by reason and the queue now (core.stats_text)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core.errors import NotAnAdmin
from core.i18n import render
from core.places import server_only
from core.requester import Requester
from core.stats_text import QueueNow, stats_text
from core.text import t

if TYPE_CHECKING:
    from core.client import ImagineBot


class StatsCog(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @server_only
    @app_commands.command(
        name="stats", description="Admin: this server's images, members served, wait, refusals and queue"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def stats(self, interaction: discord.Interaction) -> None:
        requester = Requester.of(interaction)
        if requester.guild_id is None:  # through a member's own install: no server of the bot's
            raise NotAnAdmin(t("Statistics are per server; use /stats in a server that has the bot."))
        if not requester.manage_guild:  # the default permission can be overridden
            raise NotAnAdmin(t("You need the Manage Server permission to see this server's statistics."))
        context = self.bot.context
        numbers = await context.stats.server(requester.guild_id)
        queue = QueueNow.of(context.service.waiting(), context.service.running, requester.guild_id)
        text = render(stats_text(numbers, queue), interaction.locale)
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none())


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(StatsCog(bot))
