"""`/imagine`: thin. Options are validated by Discord (Range/choices) and by prompt.request;
the job is handed to the GenerationService and followed by core.messenger."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core.errors import InvalidOption
from core.image_input import ImageInput, RemixSource
from core.places import anywhere
from core.submit import submit_imagine
from core.text import t
from prompt.assembly import AESTHETIC_TAGS, YEAR_TAGS
from prompt.options import (
    DEFAULT_CFG,
    DEFAULT_STEPS,
    DEFAULT_STRENGTH,
    MAX_CFG,
    MAX_COUNT,
    MAX_SEED,
    MAX_STEPS,
    MAX_STRENGTH,
    MIN_CFG,
    MIN_STEPS,
    MIN_STRENGTH,
    ImagineOptions,
)
from prompt.presets import (
    DEFAULT_QUALITY,
    DEFAULT_RESOLUTION,
    DEFAULT_STYLE,
    QUALITY_PRESETS,
    RESOLUTIONS,
    STYLE_PRESETS,
)
from prompt.ratings import Rating
from prompt.user_defaults import apply_defaults

if TYPE_CHECKING:
    from core.client import ImagineBot

# Discord's own ceiling for a string option; our configured limit is checked in build_request
# so that the member gets a message that names it.
DISCORD_MAX_STRING = 6000

ASPECT_CHOICES = [app_commands.Choice(name=r.label, value=r.key) for r in RESOLUTIONS]
QUALITY_CHOICES = [app_commands.Choice(name=name, value=name) for name in QUALITY_PRESETS]
STYLE_CHOICES = [app_commands.Choice(name=name, value=name) for name in STYLE_PRESETS]
RATING_CHOICES = [app_commands.Choice(name=f"{r.label} ({', '.join(r.prompt_tags)})", value=r.label) for r in Rating]
YEAR_CHOICES = [app_commands.Choice(name=tag, value=tag) for tag in YEAR_TAGS]
AESTHETIC_CHOICES = [app_commands.Choice(name=tag, value=tag) for tag in AESTHETIC_TAGS]


class ImagineCog(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @anywhere
    @app_commands.command(name="imagine", description="Generate an anime image from Danbooru tags (Animagine XL 3.1)")
    @app_commands.describe(
        prompt="Danbooru tags, comma separated, e.g. 1girl, long hair, smile; (tag:1.2) for emphasis",
        negative="Tags to avoid (added to the quality preset's negative prompt)",
        aspect="Image size; the model was trained on these nine",
        seed="Seed for reproducible images (random if empty)",
        steps=f"Denoising steps ({MIN_STEPS}-{MAX_STEPS}, default {DEFAULT_STEPS})",
        cfg=f"Prompt guidance ({MIN_CFG:g}-{MAX_CFG:g}, default {DEFAULT_CFG:g})",
        quality="Quality preset (official Animagine presets)",
        style="Style preset (official Animagine presets)",
        rating="Content rating, up to this channel's limit (default: general)",
        year="Year tag: the era of the art style",
        aesthetic="Aesthetic tag",
        count=f"How many images (1-{MAX_COUNT}, consecutive seeds; each counts against your quota)",
        image="Remix: start from this picture (PNG, JPEG or WebP) instead of noise",
        strength=f"Remix: how much of the picture is redrawn ({MIN_STRENGTH:g}-{MAX_STRENGTH:g}, "
        f"default {DEFAULT_STRENGTH:g})",
    )
    @app_commands.choices(
        aspect=ASPECT_CHOICES,
        quality=QUALITY_CHOICES,
        style=STYLE_CHOICES,
        rating=RATING_CHOICES,
        year=YEAR_CHOICES,
        aesthetic=AESTHETIC_CHOICES,
    )
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, DISCORD_MAX_STRING],
        negative: app_commands.Range[str, 0, DISCORD_MAX_STRING] | None = None,
        aspect: app_commands.Choice[str] | None = None,
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
        steps: app_commands.Range[int, MIN_STEPS, MAX_STEPS] = DEFAULT_STEPS,
        cfg: app_commands.Range[float, MIN_CFG, MAX_CFG] = DEFAULT_CFG,
        quality: app_commands.Choice[str] | None = None,
        style: app_commands.Choice[str] | None = None,
        rating: app_commands.Choice[str] | None = None,
        year: app_commands.Choice[str] | None = None,
        aesthetic: app_commands.Choice[str] | None = None,
        count: app_commands.Range[int, 1, MAX_COUNT] = 1,
        image: discord.Attachment | None = None,
        strength: app_commands.Range[float, MIN_STRENGTH, MAX_STRENGTH] | None = None,
    ) -> None:
        if strength is not None and image is None:
            raise InvalidOption("strength", t("Strength works with an image: add one with `image` to remix it."))
        options = ImagineOptions(
            prompt=prompt,
            negative=negative or "",
            aspect=aspect.value if aspect else DEFAULT_RESOLUTION,
            seed=seed,
            steps=steps,
            cfg=cfg,
            quality=quality.value if quality else DEFAULT_QUALITY,
            style=style.value if style else DEFAULT_STYLE,
            rating=rating.value if rating else None,
            year=year.value if year else None,
            aesthetic=aesthetic.value if aesthetic else None,
            count=count,
            strength=strength if strength is not None else DEFAULT_STRENGTH,
        )
        defaults = await self.bot.context.settings.get(interaction.user.id)
        options = apply_defaults(
            options,
            defaults,
            aspect_given=aspect is not None,
            quality_given=quality is not None,
            style_given=style is not None,
        )
        # A remix takes the given size, or the trained size closest to the picture's shape.
        remix = RemixSource(ImageInput.of(image), aspect.value if aspect else None) if image is not None else None
        await submit_imagine(self.bot, interaction, options, private=defaults.private, remix=remix)

    @imagine.autocomplete("prompt")
    @imagine.autocomplete("negative")
    async def complete_tags(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        context = self.bot.context
        with context.metrics.autocomplete.time():
            return [app_commands.Choice(name=c.name, value=c.value) for c in context.tag_index.complete(current)]


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(ImagineCog(bot))
