"""/describe and the message menus "Describe tags" and "Remix": thin. Images are read by
core.image_input, the texts and forms live in core.describe_view, and every request goes through
core.submit (gate, quota, queue) like /imagine."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from core import funnel
from core.describe_view import (
    FormValues,
    ImagineForm,
    ImagineWithTags,
    RemixForm,
    describe_text,
    describe_view,
)
from core.errors import UserFacingError
from core.i18n import render
from core.image_input import ImageInput, Prefill, RemixSource, message_image
from core.places import anywhere
from core.submit import refuse_after_answer, submit_imagine
from core.text import t
from prompt.options import ImagineOptions
from prompt.presets import DEFAULT_QUALITY, DEFAULT_STYLE
from prompt.user_defaults import apply_defaults

if TYPE_CHECKING:
    from core.client import ImagineBot

log = logging.getLogger(__name__)

NO_PRESET = "(None)"
# Discord's 3 s window, less a margin for the modal to travel: past this the form is offered
# behind a button instead (a modal must be the first answer).
FORM_DEADLINE_S = 2.2
PENDING_TTL_S = 15 * 60  # an interaction token's life: no form outlives it
PENDING_MAX = 256
EXPIRED = t("This Remix form has expired; use Remix on the picture again.")
PENDING_MAX_BYTES = 256 * 1024 * 1024  # images held for open forms, all members together


@dataclass(frozen=True, slots=True)
class _Pending:
    user_id: int
    data: bytes
    prefill: Prefill
    created: float


class DescribeCog(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        # Images read for a Remix form, until it is submitted (the form carries only a token).
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._menus = (
            anywhere(app_commands.ContextMenu(name="Describe tags", callback=self.describe_message)),
            anywhere(app_commands.ContextMenu(name="Remix", callback=self.remix_message)),
        )
        for menu in self._menus:
            bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self._menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    # --- /describe and "Describe tags" ----------------------------------------------------------

    @anywhere
    @app_commands.command(name="describe", description="Turn an image into Danbooru tags in Animagine's order")
    @app_commands.describe(image="A PNG, JPEG or WebP image")
    async def describe(self, interaction: discord.Interaction, image: discord.Attachment) -> None:
        await self._describe(interaction, ImageInput.of(image))

    async def describe_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        await self._describe(interaction, message_image(message))

    async def _describe(self, interaction: discord.Interaction[Any], image: ImageInput) -> None:
        images = self.bot.context.images
        private = (await self.bot.context.settings.get(interaction.user.id)).private
        # The tagger may take seconds (and the first time, a download): answer first.
        await interaction.response.defer(thinking=True, ephemeral=private)
        try:
            description = await images.describe(await images.fetch(image))
        except UserFacingError as exc:
            await refuse_after_answer(interaction, exc.text, private)
            return
        locale = interaction.locale
        text = describe_text(description.described, description.tags, description.resolution, locale)
        await interaction.edit_original_response(content=text, view=describe_view(description.resolution.key, locale))

    @commands.Cog.listener()
    async def on_describe_imagine(self, interaction: discord.Interaction[Any], prompt: str, aspect: str) -> None:
        form = ImagineForm(
            prompt,
            aspect,
            max_chars=self.bot.context.config.generation.max_prompt_chars,
            handler=self._imagine_form,
            locale=interaction.locale,
        )
        try:
            await interaction.response.send_modal(form)
        except Exception as exc:
            await funnel.report(interaction, exc, "the Imagine with these tags button")

    async def _imagine_form(self, interaction: discord.Interaction[Any], values: FormValues) -> None:
        defaults = await self.bot.context.settings.get(interaction.user.id)
        options = apply_defaults(
            ImagineOptions(prompt=values.prompt, aspect=values.aspect),
            defaults,
            aspect_given=True,
            quality_given=False,
            style_given=False,
        )
        await submit_imagine(self.bot, interaction, options, private=defaults.private)

    # --- "Remix" ---------------------------------------------------------------------------------

    async def remix_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        image = message_image(message)
        reading = asyncio.ensure_future(self._read_for_form(image))
        deadline = FORM_DEADLINE_S - (discord.utils.utcnow() - interaction.created_at).total_seconds()
        done, _ = await asyncio.wait({reading}, timeout=max(deadline, 0.0))
        if done:
            token = self._keep(interaction.user.id, *reading.result())
            await interaction.response.send_modal(self._remix_form(token, interaction.locale))
            return
        # Slow CDN or a cold tagger: answer now, and offer the form once the image is read.
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            token = self._keep(interaction.user.id, *await reading)
        except UserFacingError as exc:
            await interaction.edit_original_response(content=f"❌ {render(exc.text, interaction.locale)}")
            return
        await interaction.edit_original_response(
            content=render(t("🎨 The image is read."), interaction.locale),
            view=self._open_form_view(token, interaction.locale),
        )

    async def _read_for_form(self, image: ImageInput) -> tuple[bytes, Prefill]:
        images = self.bot.context.images
        data = await images.fetch(image)
        return data, await images.prefill(data)

    def _keep(self, user_id: int, data: bytes, prefill: Prefill) -> str:
        now = time.monotonic()
        # One open form per member: a new Remix replaces their last one (and cannot crowd out others').
        for token in [k for k, p in self._pending.items() if p.user_id == user_id]:
            del self._pending[token]
        while self._pending and (
            len(self._pending) >= PENDING_MAX
            or sum(len(p.data) for p in self._pending.values()) + len(data) > PENDING_MAX_BYTES
            or now - next(iter(self._pending.values())).created > PENDING_TTL_S
        ):
            self._pending.popitem(last=False)
        token = secrets.token_urlsafe(12)
        self._pending[token] = _Pending(user_id, data, prefill, now)
        return token

    def _remix_form(self, token: str, locale: object) -> RemixForm:
        prefill = self._pending[token].prefill

        async def submitted(interaction: discord.Interaction[Any], values: FormValues) -> None:
            await self._remix_form_submitted(interaction, token, values)

        return RemixForm(
            prefill.prompt,
            prefill.negative,
            prefill.aspect,
            max_chars=self.bot.context.config.generation.max_prompt_chars,
            handler=submitted,
            locale=locale,
        )

    def _open_form_view(self, token: str, locale: object) -> discord.ui.View:
        view = discord.ui.View(timeout=PENDING_TTL_S)
        button: discord.ui.Button[Any] = discord.ui.Button(
            label=render(t("🎨 Open the Remix form"), locale), style=discord.ButtonStyle.primary
        )

        async def clicked(interaction: discord.Interaction[Any]) -> None:
            if token not in self._pending:
                expired = UserFacingError(EXPIRED)
                await funnel.report(interaction, expired, "the Remix form button")
                return
            await interaction.response.send_modal(self._remix_form(token, interaction.locale))

        button.callback = clicked  # type: ignore[method-assign]
        view.add_item(button)
        return view

    async def _remix_form_submitted(
        self, interaction: discord.Interaction[Any], token: str, values: FormValues
    ) -> None:
        pending = self._pending.get(token)
        if pending is None or pending.user_id != interaction.user.id:
            raise UserFacingError(EXPIRED)
        defaults = await self.bot.context.settings.get(interaction.user.id)
        as_is = pending.prefill.from_parameters and values.prompt.strip() == pending.prefill.prompt.strip()
        options = ImagineOptions(
            prompt=values.prompt,
            negative=values.negative,
            strength=values.strength,
            # An image's own A1111 prompt already holds its presets: it is used as written.
            quality=NO_PRESET if as_is else DEFAULT_QUALITY,
            style=DEFAULT_STYLE,
        )
        options = apply_defaults(options, defaults, aspect_given=True, quality_given=as_is, style_given=as_is)
        remix = RemixSource(pending.data, aspect=values.aspect)
        await submit_imagine(self.bot, interaction, options, private=defaults.private, remix=remix)
        self._pending.pop(token, None)


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(ImagineWithTags)
    await bot.add_cog(DescribeCog(bot))
