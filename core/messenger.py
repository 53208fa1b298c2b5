"""Keeps a member's job message up to date and delivers the image.

The message is a Components V2 layout (core.result_layout) from the first status edit on: the
queue position or progress with the latest preview and Cancel, then the result.

The interaction token lives 15 minutes; after ~14 (or when Discord says the token is gone)
the result goes out as an ordinary channel message that mentions the member, or, where the bot
cannot post (a private result, a place reached through the member's own install), by DM with a
link back.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

import discord

from core.errors import JobCancelled, JobRequeued, UserFacingError
from core.i18n import render
from core.job_items import CancelButton
from core.job_text import (
    CANCELLED as CANCELLED,  # these three (English) are re-exported: tests read them here
)
from core.job_text import (
    CANCELLED_TEXT,
    FORCED_PRIVATE_NOTE_TEXT,
    NOT_COUNTED,
    RESTARTING_TEXT,
    status_text,
    withheld_notice,
)
from core.job_text import (
    FORCED_PRIVATE_NOTE as FORCED_PRIVATE_NOTE,
)
from core.job_text import (
    RESTARTING as RESTARTING,
)
from core.replies import Reply, StoredReply, TokenGone, token_alive
from core.result_layout import (
    PREVIEW_FILENAME,
    Picture,
    add_note,
    late_link_text,
    notice_layout,
    result_header_text,
    result_layout,
    status_layout,
)
from core.result_view import result_buttons
from core.text import t
from jobs.context import tag_jobs
from jobs.model import ActiveJob, GenerationResult
from jobs.service import GenerationService, Restored
from moderation.gate import Where
from moderation.output_check import DeliveryPlan, OutputCheck
from moderation.policy import ChannelRules

log = logging.getLogger(__name__)

# "This interaction has hit the maximum number of follow up messages" (five, for an interaction
# only a member's own install authorised).
FOLLOWUP_LIMIT_CODE = 40094
FIRST_STATUS_AFTER_S = 1.0


class JobMessenger:
    """Follows every job to its end; ``drain`` lets a stopping bot finish its deliveries."""

    def __init__(self, service: GenerationService, interval_s: float, output_check: OutputCheck | None = None) -> None:
        self._service = service
        self._output_check = output_check or OutputCheck()
        self._interval_s = interval_s
        self._following: set[asyncio.Task[None]] = set()

    def start(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a follow() in the background, tracked so shutdown can wait for it."""
        task = asyncio.create_task(self._logged(coroutine))
        self._following.add(task)
        task.add_done_callback(self._following.discard)
        return task

    @staticmethod
    async def _logged(coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            await coroutine
        except Exception:  # e.g. Discord down while delivering: the job is recorded, say why here
            log.exception("following a job failed")

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 (a grace period, not a call timeout)
        if self._following:
            await asyncio.wait(set(self._following), timeout=timeout)

    async def _edit_status(self, reply: Reply, view: discord.ui.LayoutView, *, preview: bytes | None = None) -> None:
        """A status edit; ``preview``: a new preview to upload (the layout names it), else the
        attachment already there is kept."""
        if not token_alive(reply):
            return
        # content and embeds are cleared: a status message from before V2 (a job resumed
        # across the upgrade) then becomes a layout too.
        fields: dict[str, Any] = {"content": None, "embed": None, "view": view}
        if preview is not None:
            fields["attachments"] = [discord.File(io.BytesIO(preview), filename=PREVIEW_FILENAME)]
        try:
            await reply.edit_original(**fields)
        except (discord.HTTPException, TokenGone) as exc:  # a lost status edit must not lose the image
            log.warning("status edit failed: %s", exc)

    async def follow(self, reply: Reply, job: ActiveJob, rules: ChannelRules) -> None:
        """Show position and progress (with a latent preview) until the job ends, then deliver it."""
        tag_jobs([job])  # this task's log lines name the job and its member
        last_text = ""
        # The first status follows the "thinking" answer after a moment (a second at most): in
        # a burst the answers to everyone else go first, and a job that starts at once shows
        # its progress straight away instead of a queue position.
        last_edit = time.monotonic() - self._interval_s + min(self._interval_s, FIRST_STATUS_AFTER_S)
        shown_preview: bytes | None = None
        controls = [CancelButton(job.id, reply.locale)]
        while not job.result.done():
            text = status_text(self._service.position(job), job, self._service.estimated_wait(job), reply.locale)
            preview = job.preview if job.preview is not shown_preview else None
            wait = self._interval_s - (time.monotonic() - last_edit)
            if (text != last_text or preview is not None) and wait <= 0:
                # The gallery shows the new preview, or keeps showing the one uploaded before.
                shows = PREVIEW_FILENAME if preview is not None or shown_preview is not None else None
                layout = status_layout(text, preview=shows, controls=controls)
                await self._edit_status(reply, layout, preview=preview)
                last_text, last_edit = text, time.monotonic()
                shown_preview = job.preview if preview is not None else shown_preview
                wait = self._interval_s
                if job.started:
                    job.preview_wanted.set()  # rendered at the next step, ready for the next edit
            elif text == last_text and preview is None:
                # Nothing new to show: sleep until the job changes (or a full interval).
                wait = max(wait, self._interval_s)
            job.changed.clear()
            changed = asyncio.ensure_future(job.changed.wait())
            waiters: set[asyncio.Future[Any]] = {changed, job.result}
            await asyncio.wait(waiters, timeout=max(wait, 0.05), return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
        await self.deliver(reply, job, rules)

    async def resume(
        self,
        client: discord.Client,
        restored: Iterable[Restored],
        rules_for: Callable[[Where], Awaitable[ChannelRules]],
    ) -> None:
        """Follow the jobs a previous run left unfinished (already queued again) through the
        interaction tokens they stored; the channel's rules are looked up as they are now."""
        for one in restored:
            record = one.record
            request = record.request
            reply = StoredReply(
                client,
                interaction_id=record.interaction_id,
                token=record.interaction_token,
                channel_id=request.channel_id,
                user_id=request.user_id,
                private=record.private,
                locale=record.locale,
            )
            where = Where(
                user_id=request.user_id,
                guild_id=request.guild_id,
                channel_id=request.channel_id,
                parent_id=None,
                age_restricted=record.channel_nsfw,
            )
            self.start(self.follow(reply, one.job, await rules_for(where)))

    async def deliver(self, reply: Reply, job: ActiveJob, rules: ChannelRules) -> None:
        try:
            result = job.result.result()
        except JobRequeued:
            restarting = render(RESTARTING_TEXT, reply.locale)
            await self._edit_status(reply, status_layout(restarting, controls=[CancelButton(job.id, reply.locale)]))
            return
        except JobCancelled:
            await self._edit_status(reply, status_layout(render(CANCELLED_TEXT, reply.locale)))
            return
        except UserFacingError as exc:
            failed = f"❌ {render(exc.text, reply.locale)} {render(NOT_COUNTED, reply.locale)}"
            await self._send(reply, notice_layout(failed))
            return
        try:
            withheld = await self._deliver_images(reply, job, result, rules)
        except Exception:
            # Recorded even when Discord refused the message: re-running would not fix that.
            # (Not on cancellation: a bot stopped mid-delivery runs the job again next time.)
            await self._service.complete(job)
            raise
        await self._service.complete(job, withheld=withheld)

    async def _deliver_images(
        self, reply: Reply, job: ActiveJob, result: GenerationResult, rules: ChannelRules
    ) -> str | None:
        """Post the images as the output check's plan says; returns why, if all were withheld."""
        request = job.request
        plan = await self._output_check.review(job.id, request, rules, [image.scores for image in result.images])
        if plan.nothing_made:  # a backend bug, never the output check's doing: say so honestly
            log.error("job %s: the backend returned no image", job.id)
            failed = t("The image could not be generated (the error was logged).")
            await self._send(
                reply, notice_layout(f"❌ {render(failed, reply.locale)} {render(NOT_COUNTED, reply.locale)}")
            )
            return plan.failure_reason
        detail = withheld_notice(plan, reply.locale)
        if plan.refund:
            detail += " " + render(NOT_COUNTED, reply.locale)
            if not token_alive(reply):
                # No private reply is possible any more; the channel notice carries the reason.
                await self._send(reply, notice_layout(f"🔒 <@{request.user_id}> {detail}"))
            else:
                withheld = render(t("🔒 This image was withheld by the output check."), reply.locale)
                await self._send(reply, notice_layout(withheld))
                await self._tell_privately(reply, detail)
            return plan.failure_reason
        files = [
            discord.File(
                io.BytesIO(result.images[shown.index].png),
                filename=f"animagine_{result.images[shown.index].seed}.png",
                spoiler=shown.spoiler,
            )
            for shown in plan.shown
        ]
        await self._send(reply, _result_layout(reply, job, result, plan, files), files=files)
        if plan.withheld:
            await self._tell_privately(reply, detail)
        return None

    async def _tell_privately(self, reply: Reply, text: str) -> None:
        try:
            await reply.followup(text, ephemeral=True)
            return
        except discord.HTTPException as exc:
            if exc.code != FOLLOWUP_LIMIT_CODE:
                log.warning("could not tell %s about a withheld image: %s", reply.user_id, exc)
                return
        except TokenGone as exc:
            log.warning("could not tell %s about a withheld image: %s", reply.user_id, exc)
            return
        # A user install used where the bot is not gets five follow-ups per interaction.
        dm = await reply.direct_messages()
        if dm is not None:
            try:
                await dm.send(f"{text}\n↩️ {reply.link}" if reply.link else text)
            except discord.HTTPException as exc:
                log.warning("could not tell %s by DM either: %s", reply.user_id, exc)

    async def _send(
        self, reply: Reply, layout: discord.ui.LayoutView, *, files: list[discord.File] | None = None
    ) -> None:
        """Replace the job's message (its preview too); once the token is gone, post in the
        channel instead."""
        files = files or []
        mentions = discord.AllowedMentions(users=[discord.Object(reply.user_id)], everyone=False, roles=False)
        if token_alive(reply):
            try:
                await reply.edit_original(
                    content=None, embed=None, attachments=files, view=layout, allowed_mentions=mentions
                )
                return
            except TokenGone as exc:  # the token died early (e.g. a long restart)
                log.info("interaction token gone (%s); posting in the channel instead", exc)
                for file in files:
                    file.reset()
        late = _Late(layout, files, mentions)
        if reply.private or reply.elsewhere:
            # Never where everyone sees a private result; and a channel reached only through the
            # member's own install does not take the bot's messages.
            await self._send_dm(reply, late)
            return
        channel = await reply.channel()
        if channel is None:
            await self._send_dm(reply, late)
            return
        try:
            await late.send_to(channel)
        except (discord.Forbidden, discord.NotFound) as exc:  # no access there (e.g. a user install)
            log.info(
                "could not post the result for %s in channel %s (%s); sending it by DM", reply.user_id, channel, exc
            )
            late.rewind()
            await self._send_dm(reply, late)
        except discord.HTTPException as exc:
            log.error("could not post the result for %s in channel %s: %s", reply.user_id, channel, exc)

    async def _send_dm(self, reply: Reply, late: _Late) -> None:
        """A late result in the member's DMs, with a link back to where they asked."""
        dm = await reply.direct_messages()
        if dm is None:
            log.warning("the result for %s finished after its token died and cannot be delivered", reply.user_id)
            return
        try:
            await late.send_to(dm, late_link_text(reply.link, reply.locale) if reply.link else "")
        except discord.HTTPException as exc:  # DMs closed to the bot
            log.warning("could not send the result to %s by DM: %s", reply.user_id, exc)


def _result_layout(
    reply: Reply, job: ActiveJob, result: GenerationResult, plan: DeliveryPlan, files: list[discord.File]
) -> discord.ui.LayoutView:
    request = job.request
    header = result_header_text(
        request.user_id,
        any_spoiler=plan.any_spoiler,
        forced_private_note=render(FORCED_PRIVATE_NOTE_TEXT, reply.locale) if reply.forced_private else None,
        locale=reply.locale,
    )
    # An ephemeral (private) result cannot be deleted through the channel, so no Delete; with
    # an image withheld, no buttons (they would make more of what was withheld).
    buttons = (
        result_buttons(
            job.id,
            len(result.images),
            upscaled=request.hires,
            deletable=not reply.private,
            remix=request.source is not None,
            to_dms=reply.forced_private,
            locale=reply.locale,
        )
        if plan.all_shown
        else []
    )
    # Each image is a spoiler only where the output check asks (its file is SPOILER_ named too,
    # so it stays one when forwarded), so one flagged image no longer hides the others.
    pictures = [Picture(file.filename, shown.spoiler) for file, shown in zip(files, plan.shown, strict=True)]
    return result_layout(header, request, result, pictures, buttons, locale=reply.locale)


@dataclass
class _Late:
    """A result to post after its interaction token died."""

    layout: discord.ui.LayoutView
    files: list[discord.File]
    mentions: discord.AllowedMentions

    async def send_to(self, where: discord.abc.Messageable, note: str = "") -> None:
        if note:  # sent once at most: a refused channel post is followed by the DM, with its note
            add_note(self.layout, note)
        await where.send(view=self.layout, files=self.files or discord.utils.MISSING, allowed_mentions=self.mentions)

    def rewind(self) -> None:
        """The files were read by a refused post; read them again from the start."""
        for file in self.files:
            file.reset()
