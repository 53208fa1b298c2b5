"""Cancelling jobs: `/cancel` and the Cancel button on a job's message.

The button's custom id carries the job id and the item is registered as a dynamic item, so
the button also works on messages sent before a restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core.errors import UserFacingError
from core.i18n import render
from core.job_items import CancelButton, cancel_job
from core.places import anywhere
from core.text import t

if TYPE_CHECKING:
    from core.client import ImagineBot


def describe(job_id: int, position: int | None, prompt: str, locale: object = "en-US") -> str:
    """An autocomplete choice: the job, where it is (in the member's locale), its prompt."""
    if position == 0:
        where = t("running")
    elif position:
        where = t("#{position} in line", position=position)
    else:
        where = t("finishing")
    text = f"#{job_id} · {render(where, locale)} · {prompt}"
    return text if len(text) <= 100 else text[:99] + "…"


class JobControlsCog(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @anywhere
    @app_commands.command(name="cancel", description="Cancel one of your queued or running images")
    @app_commands.describe(job="Which job (default: your most recent one)")
    async def cancel(self, interaction: discord.Interaction, job: app_commands.Range[int, 1] | None = None) -> None:
        service = self.bot.context.service
        if job is None:
            mine = service.active_jobs(interaction.user.id)
            if not mine:
                raise UserFacingError(t("You have no queued or running jobs."))
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
            label = describe(active.id, service.position(active), active.request.user_prompt, interaction.locale)
            choices.append(app_commands.Choice(name=label, value=active.id))
        return choices[:25]


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(CancelButton)
    await bot.add_cog(JobControlsCog(bot))
