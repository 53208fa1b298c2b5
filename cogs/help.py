"""`/help`: how to write prompts, the presets, and this channel's limits, with examples."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from core.i18n import render
from core.places import anywhere
from core.quota_text import status_text
from core.requester import Requester
from core.text import lines, t
from prompt.options import MAX_COUNT
from prompt.presets import QUALITY_PRESETS, STYLE_PRESETS
from prompt.ratings import Rating

if TYPE_CHECKING:
    from core.client import ImagineBot

EXAMPLES = (
    "`/imagine prompt:1girl, long hair, smile, cherry blossoms`",
    "`/imagine prompt:1boy, solo, (black jacket:1.2), city, night aspect:1216x832 count:4`",
    "`/imagine prompt:2girls, holding hands, beach, sunset style:Anime year:newest`",
)


def help_text(
    *, max_rating: Rating, default_rating: Rating, quota: str, max_prompt_chars: int, locale: object = "en-US"
) -> str:
    """The help in the member's language; tags, presets, examples and `options` stay as they are typed."""
    ratings = ", ".join(f"`{r.label}`" for r in Rating if r <= max_rating)
    text = lines(
        t("## Making images"),
        # i18n: Keep the Danbooru tags, `BREAK`, `(tag:1.3)` and other text in backticks exactly as written.
        t(
            "Write **Danbooru tags**, comma separated, most important first: who (`1girl`, `2boys`), "
            "then character and series (`hatsune miku, vocaloid`), then the rest (`long hair, smile, outdoors`). "
            "`(tag:1.3)` or `(tag)` weighs a tag more, `[tag]` less; `BREAK` starts a new chunk. "
            "The prompt box autocompletes tags. Tags to avoid go in `negative`."
        ),
        t(
            "**Quality presets:** {quality} (tags added for you). **Style presets:** {style}.",
            quality=", ".join(QUALITY_PRESETS),
            style=", ".join(STYLE_PRESETS),
        ),
        t(
            "Up to {count} images per request with `count` (consecutive seeds); the same `seed` "
            "gives the same image. Buttons under each result: 🔁 re-roll, 🎲 variation, ⬆️ upscale ×1.5, "
            "📋 parameters, 🗑️ delete. `/settings` keeps your defaults; `/cancel` stops a job.",
            count=MAX_COUNT,
        ),
        t("## Here"),
        t(
            "**Ratings allowed in this channel:** {ratings} (default `{default}`). "
            "Explicit tags are refused below `questionable`; minors with sexual content are refused everywhere.",
            ratings=ratings,
            default=default_rating.label,
        ),
        t("**Your quota:** {quota}", quota=quota),
        t("**Longest prompt:** {chars} characters.", chars=max_prompt_chars),
        t("## Examples"),
        *EXAMPLES,
    )
    return render(text, locale)


class HelpCog(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @anywhere
    @app_commands.command(name="help", description="How to write prompts, the presets, and the limits here")
    async def help(self, interaction: discord.Interaction) -> None:
        context = self.bot.context
        requester = Requester.of(interaction)
        rules = await context.gate.rules_for(requester.where)
        ask = requester.quota_ask()
        status = await context.quotas.status(ask)
        # The status's lines joined: it is one line of the help text.
        quota = status_text(status, in_guild=ask.guild_id is not None, locale=interaction.locale).replace("\n", " ")
        text = help_text(
            max_rating=rules.max_rating,
            default_rating=rules.default_rating,
            quota=quota,
            max_prompt_chars=context.config.generation.max_prompt_chars,
            locale=interaction.locale,
        )
        await interaction.response.send_message(text[:2000], ephemeral=True)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(HelpCog(bot))
