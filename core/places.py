"""Where each command can be used: Discord's installation types (the server's install, a member's
own) and contexts (servers, the bot's DM, group DMs and other DMs). Member commands go wherever
members are; moderator and admin commands stay with the server that installed the bot."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from discord import app_commands

T = TypeVar("T")


def anywhere(command: T) -> T:
    """A member command: installable by servers and members, usable in servers, DMs, group DMs."""
    installs: Callable[[T], T] = app_commands.allowed_installs(guilds=True, users=True)
    contexts: Callable[[T], T] = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
    return installs(contexts(command))


def server_only(command: T) -> T:
    """A moderator or admin command: only through a server's install, only in that server."""
    installs: Callable[[T], T] = app_commands.allowed_installs(guilds=True, users=False)
    contexts: Callable[[T], T] = app_commands.allowed_contexts(guilds=True, dms=False, private_channels=False)
    return installs(contexts(command))
