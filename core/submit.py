"""The one path every request takes, from `/imagine` and from the result buttons alike:
queue room, moderation gate, quota and job record, then the answer and the followed job.

Discord wants an answer within 3 s. A quiet bot decides first (tens of milliseconds) and then
answers: a refusal is a private reply and nothing public ever appears. Under a burst (hundreds
of members at once, a giveaway, a popular Re-roll button) the decisions queue on the database,
so the bot answers first: the "thinking" message goes out at once, the decision follows, and a
refusal then deletes that message and tells the member privately. See README "A burst".
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import discord

from core.errors import QuotaRefused, UserFacingError
from core.replies import InteractionReply
from core.requester import Requester
from jobs.model import ActiveJob, QueueSlot
from moderation.gate import Admission
from prompt.request import ImagineOptions

if TYPE_CHECKING:
    from core.client import BotContext, ImagineBot

log = logging.getLogger(__name__)


async def submit_imagine(
    bot: ImagineBot, interaction: discord.Interaction[Any], options: ImagineOptions, *, private: bool = False
) -> None:
    """Raises UserFacingError (before anything is answered or charged) when a quick decision
    refuses the request; a refusal after the answer is told privately here."""
    context = bot.context
    requester = Requester.of(interaction)
    # No database: a full queue is refused at once, privately; the seat is held while deciding.
    slot = context.service.hold_seat(requester.user_id, requester.priority(context.config.quota.priority_roles))
    pacer = context.pacer
    deciding = asyncio.ensure_future(_decide(context, interaction, requester, options, slot))
    await pacer.until_answer(interaction, deciding)
    if deciding.done():
        job, admission = deciding.result()  # a refusal propagates: nothing was answered yet
        reply = await _answer(interaction, job.id, private)
    else:
        reply = await _answer(interaction, None, private)
        try:
            job, admission = await deciding
        except UserFacingError as exc:
            await _refuse_after_answer(interaction, exc.message, private)
            return
    context.messenger.start(context.messenger.follow(reply, job, admission.rules))
    # After the member's answer: the log says "allowed" only for a job that was accepted.
    await context.gate.record_allowed(requester.where, admission, job.id)


async def _decide(
    context: BotContext,
    interaction: discord.Interaction[Any],
    requester: Requester,
    options: ImagineOptions,
    slot: QueueSlot,
) -> tuple[ActiveJob, Admission]:
    """Rules, validation, content filter, quota and job record: the job exists once this returns."""
    with context.pacer.decision():
        where = requester.where
        try:
            admission = await context.gate.check(options, where)
        except BaseException:
            context.service.release_seat(requester.user_id, slot)
            raise
        try:
            job = await context.service.submit(
                admission.request,
                requester.place,
                quota=requester.quota_ask(images=admission.request.count),
                priority=slot.priority,
                interaction_id=interaction.id,
                interaction_token=interaction.token,
                slot=slot,
            )
        except QuotaRefused as exc:
            await context.gate.record_quota_refusal(where, admission, exc.message)
            raise
        return job, admission


async def _answer(interaction: discord.Interaction[Any], job_id: int | None, private: bool) -> InteractionReply:
    """The "thinking" answer; if Discord refuses it, the job's messages go to the channel."""
    try:
        await interaction.response.defer(thinking=True, ephemeral=private)
        return InteractionReply(interaction, private=private)
    except discord.HTTPException as exc:
        # Too late (the 3 s window) or Discord hiccuped: a recorded job still runs and its
        # result goes to the channel.
        job = job_id if job_id is not None else "a request still being decided"
        log.warning("could not defer /imagine for %s (%s); the result will be posted in the channel", job, exc)
        return InteractionReply(interaction, gone=True, private=private)


async def _refuse_after_answer(interaction: discord.Interaction[Any], message: str, private: bool) -> None:
    """Tell a refusal privately after a "thinking" answer, leaving nothing in the channel."""
    try:
        if private:  # the answer is ephemeral already
            await interaction.edit_original_response(content=message)
            return
        # Discord turns the first follow-up after a public "thinking" answer into that public
        # message; deleting it first lets the follow-up be a private message of its own.
        await interaction.delete_original_response()
        await interaction.followup.send(message, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not tell %s privately that the request was refused: %s", interaction.user.id, exc)
