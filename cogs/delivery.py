"""Keeps a member's job message up to date and delivers the image.

The interaction token lives 15 minutes; after ~14 the result goes out as an ordinary channel
message that mentions the member.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import discord

from core.errors import JobCancelled, UserFacingError
from db.jobs import Place
from generation.jobs import ActiveJob
from generation.request import GenerationRequest
from generation.runner import GenerationResult
from generation.service import GenerationService

log = logging.getLogger(__name__)

TOKEN_SAFE_AGE = timedelta(minutes=14)
EMBED_COLOUR = discord.Colour.from_rgb(235, 120, 160)


def is_age_restricted(interaction: discord.Interaction) -> bool:
    """Discord's age-restricted flag of the channel; a thread inherits its parent's, a DM has none."""
    channel = interaction.channel
    if channel is None or isinstance(channel, discord.DMChannel | discord.GroupChannel):
        return False
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else False


def place_of(interaction: discord.Interaction) -> Place:
    nsfw = is_age_restricted(interaction)
    return Place(
        user_id=interaction.user.id,
        user_name=interaction.user.name,
        guild_id=interaction.guild_id,
        guild_name=interaction.guild.name if interaction.guild is not None else "",
        channel_id=interaction.channel_id or 0,
        channel_nsfw=nsfw,
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def result_embed(request: GenerationRequest, result: GenerationResult, filename: str) -> discord.Embed:
    embed = discord.Embed(description=_shorten(f"**Prompt**\n{request.prompt}", 4096), colour=EMBED_COLOUR)
    if request.negative:
        embed.add_field(name="Negative prompt", value=_shorten(request.negative, 1024), inline=False)
    embed.add_field(name="Seed", value=str(request.seed))
    embed.add_field(name="Size", value=request.size)
    embed.add_field(name="Steps", value=str(request.steps))
    embed.add_field(name="CFG", value=f"{request.cfg:g}")
    embed.add_field(name="Sampler", value=request.sampler)
    embed.add_field(name="Time", value=f"{result.seconds:.1f} s")
    embed.set_image(url=f"attachment://{filename}")
    embed.set_footer(text=f"Animagine XL 3.1 · quality preset: {request.quality}")
    return embed


def status_text(position: int | None, job: ActiveJob, started_at: float | None) -> str:
    if job.progress is not None and started_at is not None:
        elapsed = time.monotonic() - started_at
        step, total = job.progress.step, job.progress.total
        eta = elapsed / step * (total - step) if step else 0.0
        return f"🎨 Generating… step {step}/{total} · {elapsed:.0f} s elapsed · about {eta:.0f} s left"
    if position is None or position == 0:
        return "🎨 Starting…"
    ahead = position - 1
    return f"⏳ Queued: you are #{position} in line ({ahead} image{'s' if ahead != 1 else ''} ahead of yours)."


class JobMessenger:
    def __init__(self, service: GenerationService, interval_s: float) -> None:
        self._service = service
        self._interval_s = interval_s

    def _token_alive(self, interaction: discord.Interaction) -> bool:
        return datetime.now(UTC) - interaction.created_at < TOKEN_SAFE_AGE

    async def _edit_status(self, interaction: discord.Interaction, text: str) -> None:
        if not self._token_alive(interaction):
            return
        try:
            await interaction.edit_original_response(content=text)
        except discord.HTTPException as exc:  # a lost status edit must not lose the image
            log.warning("status edit failed: %s", exc)

    async def follow(self, interaction: discord.Interaction, job: ActiveJob) -> None:
        """Show position and progress until the job ends, then deliver its result."""
        last_text = ""
        last_edit = 0.0
        started_at: float | None = None
        while not job.result.done():
            if job.started and started_at is None:
                started_at = time.monotonic()
            text = status_text(self._service.position(job), job, started_at)
            wait = self._interval_s - (time.monotonic() - last_edit)
            if text != last_text and wait <= 0:
                await self._edit_status(interaction, text)
                last_text, last_edit = text, time.monotonic()
                wait = self._interval_s
            elif text == last_text:
                # Nothing new to show: sleep until the job changes (or a full interval).
                wait = max(wait, self._interval_s)
            job.changed.clear()
            changed = asyncio.ensure_future(job.changed.wait())
            waiters: set[asyncio.Future[Any]] = {changed, job.result}
            await asyncio.wait(waiters, timeout=max(wait, 0.05), return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()
        await self.deliver(interaction, job)

    async def deliver(self, interaction: discord.Interaction, job: ActiveJob) -> None:
        request = job.request
        try:
            result = job.result.result()
        except JobCancelled:
            await self._edit_status(interaction, "🚫 This job was cancelled.")
            return
        except UserFacingError as exc:
            await self._send(interaction, content=f"❌ {exc.message}")
            return
        filename = f"animagine_{request.seed}.png"
        file = discord.File(io.BytesIO(result.png), filename=filename)
        embed = result_embed(request, result, filename)
        await self._send(interaction, content=f"<@{request.user_id}>", embed=embed, file=file)

    async def _send(
        self,
        interaction: discord.Interaction,
        *,
        content: str,
        embed: discord.Embed | None = None,
        file: discord.File | None = None,
    ) -> None:
        mentions = discord.AllowedMentions(users=[discord.Object(interaction.user.id)], everyone=False, roles=False)
        if self._token_alive(interaction):
            await interaction.edit_original_response(
                content=content,
                embed=embed,
                attachments=[file] if file is not None else discord.utils.MISSING,
                allowed_mentions=mentions,
            )
            return
        channel = interaction.channel
        if channel is None or not isinstance(channel, discord.abc.Messageable):
            log.warning("job for %s finished after its token died and its channel is gone", interaction.user.id)
            return
        try:
            await channel.send(
                content=content,
                embed=embed or discord.utils.MISSING,
                file=file or discord.utils.MISSING,
                allowed_mentions=mentions,
            )
        except discord.HTTPException as exc:  # e.g. no Send Messages permission there
            log.error("could not post the result for %s in channel %s: %s", interaction.user.id, channel, exc)
