"""Cancelling jobs: `/cancel` and the Cancel button on a job's message.

The button's custom id carries the job id and the item is registered as a dynamic item, so
the button also works on messages sent before a restart.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from core.errors import UserFacingError
from jobs.service import CancelOutcome, GenerationService

if TYPE_CHECKING:
    from core.client import ImagineBot

OUTCOME_MESSAGES = {
    CancelOutcome.REMOVED: "🚫 Job #{id} was removed from the queue. Nothing was counted against the quota.",
    CancelOutcome.STOPPING: "🛑 Job #{id} stops at its next step. Nothing will be counted against the quota.",
    CancelOutcome.NOT_FOUND: "Job #{id} has already finished or been cancelled.",
}


async def cancel_job(service: GenerationService, job_id: int, interaction: discord.Interaction[Any]) -> str:
    """Cancel as the clicking or typing member; Manage Messages lets moderators cancel anyone's."""
    moderator_in = interaction.guild_id if interaction.permissions.manage_messages else None
    outcome = await service.cancel_as(job_id, interaction.user.id, moderator_in=moderator_in)
    return OUTCOME_MESSAGES[outcome].format(id=job_id)


def cancel_view(job_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


class CancelButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"job:cancel:(?P<job_id>[0-9]{1,19})"):
    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id=f"job:cancel:{job_id}")
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: ImagineBot = interaction.client
        try:
            message = await cancel_job(bot.context.service, self.job_id, interaction)
        except UserFacingError as exc:
            message = exc.message
        await interaction.response.send_message(message, ephemeral=True)


def describe(job_id: int, position: int | None, prompt: str) -> str:
    where = "running" if position == 0 else f"#{position} in line" if position else "finishing"
    text = f"#{job_id} · {where} · {prompt}"
    return text if len(text) <= 100 else text[:99] + "…"


class JobControlsCog(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(name="cancel", description="Cancel one of your queued or running images")
    @app_commands.describe(job="Which job (default: your most recent one)")
    async def cancel(self, interaction: discord.Interaction, job: app_commands.Range[int, 1] | None = None) -> None:
        service = self.bot.context.service
        if job is None:
            mine = service.active_jobs(interaction.user.id)
            if not mine:
                raise UserFacingError("You have no queued or running jobs.")
            job = mine[-1].id  # the newest: the one a member most likely regrets
        message = await cancel_job(service, job, interaction)
        await interaction.response.send_message(message, ephemeral=True)

    @cancel.autocomplete("job")
    async def complete_job(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        service = self.bot.context.service
        choices = []
        for active in service.active_jobs(interaction.user.id):
            if current and not str(active.id).startswith(current.strip().lstrip("#")):
                continue
            label = describe(active.id, service.position(active), active.request.user_prompt)
            choices.append(app_commands.Choice(name=label, value=active.id))
        return choices[:25]


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(CancelButton)
    await bot.add_cog(JobControlsCog(bot))
