"""A small stand-in for ``discord.Interaction``: just what the cogs and core read, recording
every reply so tests can assert on its text and on ``ephemeral``.

``FakeInteraction.as_interaction()`` hands it to code typed for the real class; ``invoke`` calls
an app command's callback the way the command tree would (cog or group first, then the
interaction, then the options).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import discord
from discord import app_commands

from core.client import ImagineBot


@dataclass(frozen=True, slots=True)
class FakeRole:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class FakeMember:
    id: int = 1
    name: str = "member"
    roles: tuple[FakeRole, ...] = ()


@dataclass(frozen=True, slots=True)
class FakeGuild:
    id: int = 10
    name: str = "Guild"


@dataclass(frozen=True, slots=True)
class FakeChannel:
    """A text channel (``parent_id`` None) or a thread (``parent_id`` its channel)."""

    id: int = 20
    nsfw: bool = False
    parent_id: int | None = None

    def is_nsfw(self) -> bool:
        return self.nsfw


@dataclass(frozen=True, slots=True)
class FakeCommand:
    qualified_name: str  # "mod rating" for a group's subcommand

    @property
    def name(self) -> str:
        return self.qualified_name.rsplit(" ", 1)[-1]


@dataclass(frozen=True, slots=True)
class Sent:
    """One message sent through the response or the follow-up webhook."""

    content: str | None
    ephemeral: bool
    extra: dict[str, Any] = field(default_factory=dict)


class FakeMessage:
    def __init__(self, message_id: int = 30) -> None:
        self.id = message_id
        self.deleted = False

    async def delete(self) -> None:
        self.deleted = True


class FakeResponse:
    """``interaction.response``: one answer (a message or a defer), then ``is_done()``."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.deferred: list[dict[str, Any]] = []
        self.fail_with: discord.HTTPException | None = None  # while set, every answer or edit raises it

    def is_done(self) -> bool:
        return bool(self.sent or self.deferred)

    def _answer(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        if self.is_done():
            raise discord.InteractionResponded(cast(discord.Interaction[Any], None))

    async def send_message(self, content: str | None = None, *, ephemeral: bool = False, **extra: Any) -> None:
        self._answer()
        self.sent.append(Sent(content, ephemeral, extra))

    async def defer(self, *, ephemeral: bool = False, thinking: bool = False) -> None:
        self._answer()
        self.deferred.append({"ephemeral": ephemeral, "thinking": thinking})

    def only(self) -> Sent:
        """The one message sent; fails the test if there were none or several."""
        assert len(self.sent) == 1, f"expected one reply, got {self.sent}"
        return self.sent[0]


class FakeFollowup:
    def __init__(self) -> None:
        self.sent: list[Sent] = []

    async def send(self, content: str | None = None, *, ephemeral: bool = False, **extra: Any) -> None:
        self.sent.append(Sent(content, ephemeral, extra))


class FakeBot:
    """The bot as the cogs see it: only ``context``, a double holding what a test needs."""

    def __init__(self, context: object) -> None:
        self.context = context

    def as_bot(self) -> ImagineBot:
        return cast(ImagineBot, self)


class FakeInteraction:
    def __init__(
        self,
        *,
        user: FakeMember | None = None,
        guild: FakeGuild | None = None,
        channel: object = None,
        permissions: discord.Permissions | None = None,
        locale: discord.Locale = discord.Locale.american_english,
        client: object = None,
        message: FakeMessage | None = None,
        command: FakeCommand | None = None,
        interaction_id: int | None = None,
        token: str = "token",
        dm: bool = False,
        user_install: bool = False,
    ) -> None:
        """A member in a guild text channel by default; ``dm=True`` leaves out guild and channel defaults."""
        self.user = user or FakeMember()
        self.guild = None if dm else guild or FakeGuild()
        self.guild_id = self.guild.id if self.guild is not None else None
        self.channel = channel if channel is not None or dm else FakeChannel()
        self.channel_id: int | None = getattr(self.channel, "id", None)
        self.permissions = permissions or discord.Permissions.none()
        self.locale = locale
        self.client = client
        self.message = message
        self.command = command
        self.id = interaction_id or discord.utils.time_snowflake(datetime.now(UTC))  # made just now
        self.token = token
        self.response = FakeResponse()
        self.followup = FakeFollowup()
        self.edits: list[dict[str, Any]] = []
        self.original_deleted = False
        self.user_install = user_install

    def is_user_integration(self) -> bool:
        return self.user_install

    def is_guild_integration(self) -> bool:
        """As discord.py: never in a DM; in a server, unless only the member's install is there."""
        return self.guild_id is not None and not self.user_install

    @property
    def created_at(self) -> datetime:
        return discord.utils.snowflake_time(self.id)

    async def edit_original_response(self, **changes: Any) -> None:
        if self.response.fail_with is not None:
            raise self.response.fail_with
        self.edits.append(changes)

    async def delete_original_response(self) -> None:
        if self.response.fail_with is not None:
            raise self.response.fail_with
        self.original_deleted = True

    def as_interaction(self) -> discord.Interaction[Any]:
        return cast(discord.Interaction[Any], self)


class _HttpResponse:
    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "Bad"


def http_error(status: int = 500, code: int = 0) -> discord.HTTPException:
    """What discord.py raises when Discord answers ``status``."""
    return discord.HTTPException(cast(Any, _HttpResponse(status)), {"code": code, "message": "failed"})


def dm_channel(channel_id: int = 40) -> discord.DMChannel:
    """A real ``discord.DMChannel`` (code checks it with isinstance), with no state behind it."""
    return discord.DMChannel(me=cast(Any, None), state=cast(Any, None), data=cast(Any, {"id": channel_id}))


async def invoke(
    command: app_commands.Command[Any, ..., Any],
    binding: object,
    interaction: FakeInteraction,
    *args: object,
    **options: object,
) -> None:
    """Run a slash command's callback with its cog (or group) as the tree would."""
    callback = cast(Callable[..., Awaitable[None]], command.callback)
    await callback(binding, interaction.as_interaction(), *args, **options)


def roles(*pairs: tuple[int, str]) -> tuple[FakeRole, ...]:
    return tuple(FakeRole(role_id, name) for role_id, name in pairs)
