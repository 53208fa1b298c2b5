"""The one path every request takes, from `/imagine` and from the result buttons alike:
queue room, moderation gate, quota and job record, then the defer and the followed job."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from core.errors import QuotaRefused
from core.replies import InteractionReply
from core.requester import Requester
from prompt.request import ImagineOptions

if TYPE_CHECKING:
    from core.client import ImagineBot

log = logging.getLogger(__name__)


async def submit_imagine(
    bot: ImagineBot, interaction: discord.Interaction[Any], options: ImagineOptions, *, private: bool = False
) -> None:
    """Raises UserFacingError (before anything is deferred or charged) when the request is refused."""
    context = bot.context
    # Validation, policy and the quota are quick database work, so they run before the
    # defer: a refusal gets an ephemeral answer, and the job is recorded (and its quota
    # charged) before the member is told it is queued.
    context.service.ensure_room()  # before admit, so the audit log never says "allowed" for it
    requester = Requester.of(interaction)
    where = requester.where
    admission = await context.gate.check(options, where)
    try:
        job = await context.service.submit(
            admission.request,
            requester.place,
            quota=requester.quota_ask(images=admission.request.count),
            priority=requester.priority(context.config.quota.priority_roles),
            interaction_id=interaction.id,
            interaction_token=interaction.token,
        )
    except QuotaRefused as exc:
        await context.gate.record_quota_refusal(where, admission, exc.message)
        raise
    await context.gate.record_allowed(where, admission, job.id)
    try:
        await interaction.response.defer(thinking=True, ephemeral=private)
        reply = InteractionReply(interaction, private=private)
    except discord.HTTPException as exc:
        # Too late (the 3 s window) or Discord hiccuped: the job is recorded and charged, so it
        # still runs and its result goes to the channel.
        log.warning("could not defer /imagine for %s (%s); the result will be posted in the channel", job.id, exc)
        reply = InteractionReply(interaction, gone=True, private=private)
    context.messenger.start(context.messenger.follow(reply, job, admission.rules))
