"""The Cancel button on a job's message and the cancel rule shared with `/cancel`.

The button's custom id carries the job id and the item is registered as a dynamic item, so
the button also works on messages sent before a restart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol, cast

import discord

from core import funnel
from core.i18n import render
from core.text import Text, t
from jobs.service import CancelOutcome, GenerationService


class _HasService(Protocol):
    service: GenerationService


class _Bot(Protocol):
    """What the button needs of the bot: read structurally, so this module (which the
    messenger uses) does not import the Bot subclass that holds the messenger."""

    context: _HasService


OUTCOME_TEXTS: dict[CancelOutcome, Callable[[object], Text]] = {
    CancelOutcome.REMOVED: lambda job: t(
        "🚫 Job #{id} was removed from the queue. Nothing was counted against the quota.", id=job
    ),
    CancelOutcome.STOPPING: lambda job: t(
        "🛑 Job #{id} stops at its next step. Nothing will be counted against the quota.", id=job
    ),
    CancelOutcome.NOT_FOUND: lambda job: t("Job #{id} has already finished or been cancelled.", id=job),
}
# The English templates ({id} unfilled), as logs and tests read them.
OUTCOME_MESSAGES = {outcome: text("{id}").msgid for outcome, text in OUTCOME_TEXTS.items()}


async def cancel_job(service: GenerationService, job_id: int, interaction: discord.Interaction[Any]) -> str:
    """Cancel as the clicking or typing member; Manage Messages lets moderators cancel anyone's.
    The answer is in the member's locale."""
    moderator_in = interaction.guild_id if interaction.permissions.manage_messages else None
    outcome = await service.cancel_as(job_id, interaction.user.id, moderator_in=moderator_in)
    return render(OUTCOME_TEXTS[outcome](job_id), interaction.locale)


def cancel_view(job_id: int, locale: object = "en-US") -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id, locale))
    return view


class CancelButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"job:cancel:(?P<job_id>[0-9]{1,19})"):
    def __init__(self, job_id: int, locale: object = "en-US") -> None:
        # The label is in the member's locale; only the custom id is matched after a restart.
        label = render(t("Cancel"), locale)
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, custom_id=f"job:cancel:{job_id}")
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot = cast(_Bot, interaction.client)
        try:
            message = await cancel_job(bot.context.service, self.job_id, interaction)
            await interaction.response.send_message(message, ephemeral=True)
        except Exception as exc:
            await funnel.report(interaction, exc, f"the Cancel button of job {self.job_id}")
