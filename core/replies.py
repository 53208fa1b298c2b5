"""Where a job's messages go: the member's interaction while its token lives, the channel after.

A live job has its ``discord.Interaction``; a job resumed after a restart only has the
interaction's id and token from the database, which still reach the same message through
the interaction webhook for 15 minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import discord

from core.requester import is_forced_private, is_user_install

log = logging.getLogger(__name__)

TOKEN_SAFE_AGE = timedelta(minutes=14)  # Discord's tokens die at 15; leave a margin


# Discord's answers for a token that expired or never existed (Invalid Webhook Token, Unknown Webhook).
DEAD_TOKEN_CODES = frozenset({50027, 10015})


class TokenGone(Exception):
    """The interaction can no longer be answered through its token."""


def is_dead_token(exc: discord.HTTPException) -> bool:
    return exc.code in DEAD_TOKEN_CODES or exc.status in (401, 404)


class Reply(Protocol):
    @property
    def user_id(self) -> int: ...

    @property
    def gone(self) -> bool:
        """Discord said the token is dead: stop using it, whatever its age."""

    @property
    def private(self) -> bool:
        """The member asked for results only they see (an ephemeral response)."""

    @property
    def created_at(self) -> datetime: ...

    @property
    def locale(self) -> str:
        """The member's Discord locale: render what is sent here with ``core.i18n.render``."""

    async def edit_original(self, **fields: Any) -> None:
        """Edit the deferred message (content, embed, attachments, view, allowed_mentions)."""

    async def followup(self, content: str, *, ephemeral: bool) -> None: ...

    async def channel(self) -> discord.abc.Messageable | None: ...

    @property
    def elsewhere(self) -> bool:
        """Asked through the member's own install where the bot is not: the bot cannot post there."""

    @property
    def forced_private(self) -> bool:
        """Discord shows the answers only to the member: the server does not let members' apps
        post publicly (no Use External Apps)."""

    @property
    def link(self) -> str:
        """Where the member asked, as a Discord link ("" when not known)."""

    async def direct_messages(self) -> discord.abc.Messageable | None:
        """The member's DM with the bot (None when Discord refuses it)."""


def token_alive(reply: Reply, now: datetime | None = None) -> bool:
    return not reply.gone and (now or datetime.now(UTC)) - reply.created_at < TOKEN_SAFE_AGE


class _TokenWatch:
    """Turns Discord's "this token is dead" answers into TokenGone, once and for all."""

    private = False

    def __init__(self) -> None:
        self._gone = False

    @property
    def gone(self) -> bool:
        return self._gone

    async def _guard(self, call: Awaitable[Any]) -> None:
        if self._gone:
            raise TokenGone("the interaction token is no longer valid")
        try:
            await call
        except discord.HTTPException as exc:
            if not is_dead_token(exc):
                raise
            self._gone = True
            raise TokenGone(f"the interaction token is no longer valid ({exc.status} {exc.code})") from exc


def channel_link(guild_id: int | None, channel_id: int | None) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}" if channel_id else ""


class InteractionReply(_TokenWatch):
    def __init__(self, interaction: discord.Interaction, *, gone: bool = False, private: bool = False) -> None:
        super().__init__()
        self._interaction = interaction
        self._gone = gone
        self.private = private
        self.elsewhere = is_user_install(interaction)
        self.forced_private = is_forced_private(interaction)
        self.link = channel_link(interaction.guild_id, interaction.channel_id)
        self.locale = str(interaction.locale)

    async def direct_messages(self) -> discord.abc.Messageable | None:
        return await _dm(self._interaction.user)

    @property
    def user_id(self) -> int:
        return self._interaction.user.id

    @property
    def created_at(self) -> datetime:
        return self._interaction.created_at

    async def edit_original(self, **fields: Any) -> None:
        await self._guard(self._interaction.edit_original_response(**fields))

    async def followup(self, content: str, *, ephemeral: bool) -> None:
        await self._guard(self._interaction.followup.send(content, ephemeral=ephemeral))

    async def channel(self) -> discord.abc.Messageable | None:
        channel = self._interaction.channel
        return channel if isinstance(channel, discord.abc.Messageable) else None


class StoredReply(_TokenWatch):
    """The interaction of a job picked up after a restart, rebuilt from its id and token."""

    def __init__(
        self,
        client: discord.Client,
        *,
        interaction_id: int | None,
        token: str | None,
        channel_id: int,
        user_id: int,
        private: bool = False,
        locale: str = "en-US",
    ) -> None:
        super().__init__()
        self.private = private
        self.locale = locale  # stored with the job (jobs.locale)
        self._client = client
        self._token = token
        self._channel_id = channel_id
        self._user_id = user_id
        # Not recorded with the job: a channel that refuses the bot sends the result to DMs.
        self.elsewhere = False
        self.forced_private = False
        self.link = ""
        # The id is a snowflake: it says when the member asked, hence how old the token is.
        self._created_at = (
            discord.utils.snowflake_time(interaction_id) if interaction_id else datetime.fromtimestamp(0, UTC)
        )

    @property
    def user_id(self) -> int:
        return self._user_id

    @property
    def created_at(self) -> datetime:
        return self._created_at if self._token else datetime.fromtimestamp(0, UTC)

    def _webhook(self) -> discord.Webhook:
        application_id = self._client.application_id
        if application_id is None or self._token is None:
            raise TokenGone("this job's interaction token is not known")
        # Interaction.followup builds its webhook the same way (type 3 = application).
        data: Any = {"id": application_id, "type": 3, "token": self._token}
        return discord.Webhook.from_state(data=data, state=self._client._connection)

    async def edit_original(self, **fields: Any) -> None:
        # "@original" is how Discord names the interaction's first message in the webhook API.
        await self._guard(self._webhook().edit_message("@original", **fields))  # type: ignore[call-overload]

    async def followup(self, content: str, *, ephemeral: bool) -> None:
        await self._guard(self._webhook().send(content, ephemeral=ephemeral))

    async def direct_messages(self) -> discord.abc.Messageable | None:
        try:
            user = self._client.get_user(self._user_id) or await self._client.fetch_user(self._user_id)
        except discord.HTTPException as exc:
            log.warning("member %s is not known to Discord: %s", self._user_id, exc)
            return None
        return await _dm(user)

    async def channel(self) -> discord.abc.Messageable | None:
        channel = self._client.get_channel(self._channel_id)
        if channel is None:
            try:
                channel = await self._client.fetch_channel(self._channel_id)
            except discord.HTTPException as exc:
                log.warning("channel %s is gone: %s", self._channel_id, exc)
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None


async def _dm(user: discord.User | discord.Member) -> discord.abc.Messageable | None:
    try:
        return await user.create_dm()
    except discord.HTTPException as exc:
        log.warning("could not open a DM with %s: %s", user.id, exc)
        return None
