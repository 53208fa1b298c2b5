"""What the result buttons do. Re-roll, Variation and Upscale make a new request that goes
through the same gate, quota and queue as `/imagine` (as the member who clicked); Parameters
answers privately; Delete is for the member who asked and for moderators."""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from core import funnel
from core.errors import UserFacingError
from core.i18n import render
from core.image_input import ImageInput
from core.replies import channel_link
from core.result_view import ResultAction, ResultButton
from core.submit import submit_imagine
from core.text import Message, lines, t
from prompt import followups
from prompt.request import GenerationRequest

if TYPE_CHECKING:
    from core.client import ImagineBot

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000


def _block(text: str) -> str:
    return "```\n" + text.replace("```", "ˋˋˋ") + "\n```"


def imagine_command(request: GenerationRequest) -> str:
    """A `/imagine` line that makes the same image (Discord fills options typed as name:value)."""
    parts = [f"/imagine prompt:{request.user_prompt}"]
    if request.user_negative:
        parts.append(f"negative:{request.user_negative}")
    parts += [f"aspect:{request.size}", f"seed:{request.seed}", f"steps:{request.steps}", f"cfg:{request.cfg:g}"]
    parts += [f"quality:{request.quality}", f"style:{request.style}", f"rating:{request.rating}"]
    if request.year:
        parts.append(f"year:{request.year}")
    if request.aesthetic:
        parts.append(f"aesthetic:{request.aesthetic}")
    if request.count > 1:
        parts.append(f"count:{request.count}")
    return " ".join(parts)


_HEADINGS = {"prompt": t("Prompt"), "negative": t("Negative prompt"), "again": t("Make it again")}


def parameters_text(request: GenerationRequest, locale: object = "en-US") -> str:
    """The Parameters answer in the member's locale; the prompts, the values and the
    `/imagine` line stay as typed (they are meant to be copied)."""
    width, height = request.output_size
    settings: list[Message] = [
        t("Seed: {seeds}", seeds=", ".join(map(str, request.seeds))),
        t("Size: {size}", size=f"{width}x{height}"),
        t("Steps: {steps}", steps=request.steps),
        t("CFG: {cfg}", cfg=f"{request.cfg:g}"),
        t("Sampler: {sampler}", sampler=request.sampler),
        t("Quality: {quality}", quality=request.quality),
        t("Style: {style}", style=request.style),
        t("Rating: {rating}", rating=request.rating),
    ]
    if request.variation_seed is not None:
        settings.append(
            t(
                "Variation seed: {seed} ({strength})",
                seed=request.variation_seed,
                strength=f"{request.variation_strength:g}",
            )
        )
    if request.hires:
        settings.append(t("Upscaled ×1.5 (hires pass, denoise 0.55)"))
    negative = _block(request.negative) if request.negative else _block(render(t("(none)"), locale))
    heading = {key: render(text, locale) for key, text in _HEADINGS.items()}
    sections = [
        f"**{heading['prompt']}**",
        _block(request.prompt),
        f"**{heading['negative']}**",
        negative,
        render(lines(*settings, separator=" · "), locale),
        f"**{heading['again']}**",
        _block(imagine_command(request)),
    ]
    return "\n".join(sections)


class ResultsCog(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_result_button(
        self, interaction: discord.Interaction[Any], action: ResultAction, job_id: int, index: int
    ) -> None:
        try:
            await self._handle(interaction, action, job_id, index)
        except Exception as exc:
            await funnel.report(interaction, exc, f"the {action} button of job {job_id}")

    async def _handle(
        self, interaction: discord.Interaction[Any], action: ResultAction, job_id: int, index: int
    ) -> None:
        record = await self.bot.context.service.record(job_id)
        if record is None:
            raise UserFacingError(t("This result is no longer known to the bot."))
        request = record.request
        if action is ResultAction.PARAMS:
            await self._parameters(interaction, request)
        elif action is ResultAction.TO_DMS:
            await self._to_dms(interaction)
        elif action is ResultAction.DELETE:
            await self._delete(interaction, request)
        else:
            if action is ResultAction.REROLL:
                options = followups.reroll(request)
            elif action is ResultAction.VARY:
                options = followups.variation(request, index)
            else:
                options = followups.upscale(request, index)
            private = (await self.bot.context.settings.get(interaction.user.id)).private
            await submit_imagine(self.bot, interaction, options, private=private)

    async def _parameters(self, interaction: discord.Interaction[Any], request: GenerationRequest) -> None:
        text = parameters_text(request, interaction.locale)
        if len(text) <= MESSAGE_LIMIT:
            await interaction.response.send_message(text, ephemeral=True)
            return
        # Very long prompts: the same text as a file, which Discord shows with a copy button.
        file = discord.File(io.BytesIO(text.encode()), filename="parameters.md")
        note = render(t("📋 Parameters (long prompt, attached):"), interaction.locale)
        await interaction.response.send_message(note, file=file, ephemeral=True)

    async def _to_dms(self, interaction: discord.Interaction[Any]) -> None:
        """A result only the member sees (forced by the server): its images again, in their DMs."""
        message = interaction.message
        if message is None or not message.attachments:
            raise UserFacingError(t("This result has no image to send."))
        await interaction.response.defer(ephemeral=True, thinking=True)
        images = self.bot.context.images
        files = [
            discord.File(io.BytesIO(await images.fetch(ImageInput.of(a))), filename=a.filename)
            for a in message.attachments
        ]
        place = channel_link(interaction.guild_id, interaction.channel_id)
        locale = interaction.locale
        try:
            dm = await interaction.user.create_dm()
            await dm.send(content=render(t("📩 Your image from {place}", place=place), locale), files=files)
        except discord.HTTPException:
            closed = t("I could not send you a DM: allow direct messages from this app, then press 📩 again.")
            await interaction.edit_original_response(content=render(closed, locale))
            return
        await interaction.edit_original_response(content=render(t("📩 Sent to your DMs."), locale))

    async def _delete(self, interaction: discord.Interaction[Any], request: GenerationRequest) -> None:
        moderator = interaction.permissions.manage_messages
        if interaction.user.id != request.user_id and not moderator:
            raise UserFacingError(t("Only the member who asked for this image, or a moderator, can delete it."))
        message = interaction.message
        if message is None:
            raise UserFacingError(t("That message is gone already."))
        try:
            await message.delete()
        except discord.NotFound:  # e.g. two moderators clicked at once
            raise UserFacingError(t("That message is gone already.")) from None
        await interaction.response.send_message(render(t("🗑️ Deleted."), interaction.locale), ephemeral=True)


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(ResultButton)
    await bot.add_cog(ResultsCog(bot))
