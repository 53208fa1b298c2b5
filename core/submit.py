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
import contextlib
import dataclasses
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import discord

from core.errors import BadImage, QuotaRefused, UserFacingError
from core.i18n import render
from core.image_input import RemixSource
from core.replies import InteractionReply
from core.requester import Requester, is_forced_private
from core.text import Message, t
from jobs.model import ActiveJob, QueueSlot
from moderation.gate import Admission, ImageFacts
from prompt.options import ImagineOptions

if TYPE_CHECKING:
    from core.client import BotContext, ImagineBot

log = logging.getLogger(__name__)


async def submit_imagine(
    bot: ImagineBot,
    interaction: discord.Interaction[Any],
    options: ImagineOptions,
    *,
    private: bool = False,
    remix: RemixSource | None = None,
) -> None:
    """Raises UserFacingError (before anything is answered or charged) when a quick decision
    refuses the request; a refusal after the answer is told privately here. ``remix``: the
    member's image to start from (options with a ``source`` and no ``remix`` are a Re-roll of a
    remix: its kept source image is used)."""
    context = bot.context
    requester = Requester.of(interaction)
    private = private or is_forced_private(interaction)
    # No database: a full queue is refused at once, privately; the seat is held while deciding.
    with _counting_refusals(context):
        slot = context.service.hold_seat(requester.user_id, requester.priority(context.config.quota.priority_roles))
    pacer = context.pacer
    deciding = asyncio.ensure_future(_decide(context, interaction, requester, options, slot, remix, private))
    await pacer.until_answer(interaction, deciding)
    if deciding.done():
        job, admission = deciding.result()  # a refusal propagates: nothing was answered yet
        reply = await _answer(interaction, job.id, private)
    else:
        reply = await _answer(interaction, None, private)
        try:
            job, admission = await deciding
        except UserFacingError as exc:
            await refuse_after_answer(interaction, exc.text, private)
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
    remix: RemixSource | None,
    private: bool,
) -> tuple[ActiveJob, Admission]:
    """The source image, rules, validation, content filter, quota and job record: the job
    exists once this returns."""
    with context.pacer.decision(), _counting_refusals(context):
        where = requester.where
        try:
            options, source_png, facts = await _with_source(context, options, remix)
            admission = await context.gate.check(options, where, image=facts)
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
                source_png=source_png,
                private=private,
                locale=requester.locale,
            )
        except QuotaRefused as exc:
            await context.gate.record_quota_refusal(where, admission, exc.message, code=exc.code)
            raise
        return job, admission


@contextlib.contextmanager
def _counting_refusals(context: BotContext) -> Iterator[None]:
    """Count a refused request by its reason (told to the member by whoever catches it)."""
    try:
        yield
    except UserFacingError as exc:
        context.metrics.refused(exc)
        raise


async def _with_source(
    context: BotContext, options: ImagineOptions, remix: RemixSource | None
) -> tuple[ImagineOptions, bytes | None, ImageFacts | None]:
    """The options with the remix's fitted source (its size is the aspect), its PNG, and what
    the tagger saw in it (with the output check on)."""
    if remix is not None:
        source, facts = await context.images.remix_source(remix)
        options = dataclasses.replace(options, aspect=f"{source.width}x{source.height}", source=source.digest)
        return options, source.png, facts
    if options.source is None:
        return options, None, None
    # Re-roll or Upscale of a remix: the source kept with the first job, checked back then.
    png = await context.service.source(options.source)
    if png is None:
        raise BadImage(t("The source image of this remix is no longer kept; use Remix on the picture again."))
    return options, png, None


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


async def refuse_after_answer(interaction: discord.Interaction[Any], refusal: Message, private: bool) -> None:
    """Tell a refusal privately, in the member's language, after a "thinking" answer, leaving
    nothing in the channel."""
    message = render(refusal, interaction.locale)
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
