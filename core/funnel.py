"""The one place an error becomes a member's message: slash commands, buttons and selects.

``UserFacingError`` carries a message written for the member; anything else is a bug, logged,
and the member gets a generic apology. Before any answer it is an ephemeral reply. After a
defer the "thinking" message is replaced (a follow-up would leave it hanging, and could not be
ephemeral after a public defer); refusals are raised before the defer, so only a crash after
it is shown there, as the apology.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands

from core.errors import UserFacingError

log = logging.getLogger(__name__)

APOLOGY = "Something went wrong on our side; the error was logged. Please try again later."


def message_for(error: BaseException, where: str) -> str:
    """The member's text for an error raised while handling ``where`` (logged when it is a bug)."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, UserFacingError):
        return error.message
    if isinstance(error, app_commands.TransformerError):
        # Discord validates choices and ranges itself; this only happens with stale or
        # hand-crafted clients, so name the value and point back at the list.
        return f"`{error.value}` is not an allowed value for this option; please pick one from the list."
    if isinstance(error, app_commands.CheckFailure):
        return str(error) or "You cannot use this command here."
    log.error("unhandled error in %s", where, exc_info=error)
    return APOLOGY


async def report(interaction: discord.Interaction[Any], error: BaseException, where: str) -> None:
    """Tell the member privately what went wrong; never raises."""
    message = message_for(error, where)
    try:
        if interaction.response.is_done():
            await interaction.edit_original_response(content=f"❌ {message}", embed=None, attachments=[], view=None)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the member about an error: %s", message)
