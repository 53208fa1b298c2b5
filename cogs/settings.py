"""`/settings`: a member's own defaults for `/imagine` (kept in the database)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from cogs.imagine import ASPECT_CHOICES, QUALITY_CHOICES, STYLE_CHOICES
from core.i18n import render
from core.places import anywhere
from core.text import lines, t

if TYPE_CHECKING:
    from core.client import ImagineBot

CLEAR = "-"


@anywhere
class SettingsGroup(app_commands.Group, name="settings", description="Your defaults for /imagine"):
    def __init__(self, bot: ImagineBot) -> None:
        super().__init__()
        self.bot = bot

    @app_commands.command(name="show", description="Show your /imagine defaults")
    async def show(self, interaction: discord.Interaction) -> None:
        defaults = await self.bot.context.settings.get(interaction.user.id)
        await interaction.response.send_message(render(defaults.describe_text(), interaction.locale), ephemeral=True)

    @app_commands.command(name="set", description="Change your /imagine defaults (options in /imagine still win)")
    @app_commands.describe(
        aspect="Default image size",
        quality="Default quality preset",
        style="Default style preset",
        negative=f"Extra negative tags added to every request ({CLEAR} to clear)",
        private="Results only you can see (ephemeral)",
    )
    @app_commands.choices(aspect=ASPECT_CHOICES, quality=QUALITY_CHOICES, style=STYLE_CHOICES)
    async def set_(
        self,
        interaction: discord.Interaction,
        aspect: app_commands.Choice[str] | None = None,
        quality: app_commands.Choice[str] | None = None,
        style: app_commands.Choice[str] | None = None,
        negative: app_commands.Range[str, 1, 500] | None = None,
        private: bool | None = None,
    ) -> None:
        store = self.bot.context.settings
        defaults = await store.get(interaction.user.id)
        changes: dict[str, object] = {}
        if aspect is not None:
            changes["aspect"] = aspect.value
        if quality is not None:
            changes["quality"] = quality.value
        if style is not None:
            changes["style"] = style.value
        if negative is not None:
            changes["negative"] = "" if negative.strip() == CLEAR else " ".join(negative.split())
        if private is not None:
            changes["private"] = private
        updated = dataclasses.replace(defaults, **changes)  # type: ignore[arg-type]
        await store.put(interaction.user.id, updated)
        text = lines(t("✅ Saved."), updated.describe_text())
        await interaction.response.send_message(render(text, interaction.locale), ephemeral=True)

    @app_commands.command(name="reset", description="Forget your /imagine defaults")
    async def reset(self, interaction: discord.Interaction) -> None:
        await self.bot.context.settings.reset(interaction.user.id)
        text = render(t("✅ Your defaults are back to the bot's."), interaction.locale)
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: ImagineBot) -> None:
    bot.tree.add_command(SettingsGroup(bot))
