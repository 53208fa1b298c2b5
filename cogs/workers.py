"""`/workers` for admins (Manage Server): the GPU workers and what each is doing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core.errors import NotAnAdmin
from core.places import server_only
from core.requester import Requester
from core.text import t
from core.workers_text import workers_text

if TYPE_CHECKING:
    from core.client import ImagineBot


class WorkersCog(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @server_only
    @app_commands.command(name="workers", description="Admin: the GPU workers, their state, jobs and speed")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    async def workers(self, interaction: discord.Interaction) -> None:
        if not Requester.of(interaction).manage_guild:  # the default permission can be overridden
            raise NotAnAdmin(t("You need the Manage Server permission to see the GPU workers."))
        text = workers_text(self.bot.context.fleet.workers(), interaction.locale)
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(WorkersCog(bot))
