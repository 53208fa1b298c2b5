"""The one place an error becomes a member's message: slash commands, buttons and selects.

``UserFacingError`` carries a message written for the member; anything else is a bug, logged,
and the member gets a generic apology. Before any answer it is an ephemeral reply. After a
defer the "thinking" message is replaced (a follow-up would leave it hanging, and could not be
ephemeral after a public defer); refusals are raised before the defer, so only a crash after
it is shown there, as the apology. Every message is shown in the member's language
(``interaction.locale``), English where it has no translation.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from core.errors import UserFacingError
from core.i18n import render
from core.result_layout import edit_with_text
from core.text import Message, t

log = logging.getLogger(__name__)

APOLOGY_TEXT = t("Something went wrong on our side; the error was logged. Please try again later.")
APOLOGY = str(APOLOGY_TEXT)


def text_for(error: BaseException, where: str) -> Message:
    """The member's message for an error raised while handling ``where`` (logged when it is a bug)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserFacingError):
        return error.text
    if isinstance(error, app_commands.TransformerError):
        # Discord validates choices and ranges itself; this only happens with stale or
        # hand-crafted clients, so name the value and point back at the list.
        return t("`{value}` is not an allowed value for this option; please pick one from the list.", value=error.value)
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or t("You cannot use this command here.")
    log.error("unhandled error in %s", where, exc_info=error)
    return APOLOGY_TEXT


def message_for(error: BaseException, where: str, locale: object = "en-US") -> str:
    """``text_for`` in a Discord locale (English by default)."""
    return render(text_for(error, where), locale)


async def report(interaction: discord.Interaction[Any], error: BaseException, where: str) -> None:
    """Tell the member privately what went wrong, in their language; never raises."""
    message = message_for(error, where, interaction.locale)
    try:
        if interaction.response.is_done():
            await edit_with_text(interaction, f"❌ {message}")  # a job's message is a V2 layout
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about an error: %s", message)
