"""`FakeDiscord`: the facade tests use to run a local Discord (REST + gateway) on 127.0.0.1."""

from __future__ import annotations

import pprint
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from .cdn import Cdn
from .gateway import Gateway
from .installs import Authorization, Install, authorize_command, authorize_place, inherit
from .interaction_builder import (
    InteractionSpecError,
    base_payload,
    choose_channel,
    command_data,
    find_component,
    message_command_data,
)
from .modal import modal_submit_data
from .payloads import JsonObj, guild_create_payload, member_payload, message_payload, user_payload
from .rest import API_PREFIX, INTERACTION_TOKEN_LIFETIME, RestApi
from .state import (
    DEFAULT_BOT_PERMISSIONS,
    DEFAULT_EVERYONE_PERMISSIONS,
    GROUP_DM,
    GUILD_TEXT,
    PUBLIC_THREAD,
    Attachment,
    Channel,
    DiscordState,
    Guild,
    Interaction,
    Member,
    Message,
    Role,
    SnowflakeGenerator,
    User,
)
from .validation import load_spec

# Interaction types.
APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 2, 3, 4, 5


class FakeDiscord:
    """A small Discord for end-to-end tests: real sockets, real discord.py on the other side."""

    def __init__(
        self,
        token: str = "test-token",
        *,
        bot_name: str = "TestBot",
        attachment_size_limit: int = 10 * 1024 * 1024,
        recommended_shards: int = 1,
    ) -> None:
        snowflakes = SnowflakeGenerator()
        self.token = token
        self.application_id: int = snowflakes.next()
        # Bot user id equals the application id, as for every modern Discord app.
        bot = User(id=self.application_id, username=bot_name, bot=True, global_name=bot_name)
        self.state = DiscordState(application_id=self.application_id, bot_user=bot, snowflakes=snowflakes)
        self.state.users[bot.id] = bot
        self.app_owner = self.add_user("app-owner")
        self.attachment_size_limit = attachment_size_limit
        # What GET /gateway/bot recommends (`shards`), for bots that let Discord choose.
        self.recommended_shards = recommended_shards
        self.time_offset: float = 0.0
        self.validation_errors: list[str] = []
        self.limit_errors: list[str] = []
        self.requests: list[tuple[str, str, int]] = []
        self.unhandled: list[str] = []
        self.port: int = 0
        self.rest = RestApi(self.state, self)
        self.cdn = Cdn(self.state)
        self.gateway = Gateway(self.state, lambda: self.token, lambda: self.gateway_url)
        self._runner: web.AppRunner | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def bot_user_id(self) -> int:
        return self.state.bot_user.id

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base_url(self) -> str:
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gw"

    async def start(self) -> None:
        load_spec()  # parse the spec up front so the first request is not slowed down
        # Big client_max_size: oversize uploads must reach our handler to get Discord's 413/40005.
        app = web.Application(middlewares=[self.rest.middleware], client_max_size=1024**3)
        app.router.add_get("/gw", self.gateway.handle)
        app.add_routes(self.rest.routes())
        app.add_routes(self.cdn.routes())
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        # Port 0 lets the OS pick a free port; read back which one it chose.
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        # Close websockets first: aiohttp would otherwise wait for their handlers on shutdown.
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- world building ----------------------------------------------------------------------

    def add_user(self, username: str, *, global_name: str | None = None) -> User:
        user = User(id=self.state.snowflakes.next(), username=username, global_name=global_name)
        self.state.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str,
        *,
        owner_id: int | None = None,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        shard: tuple[int, int] | None = None,
        bot_member: bool = True,
    ) -> Guild:
        """Owner defaults to a fresh user so test members never inherit owner powers by accident.
        `shard` = (shard_id, shard_count): an id that this shard of a sharded bot owns.
        `bot_member=False`: a guild the app is not installed in (no GUILD_CREATE, REST 403 50001);
        its members reach the bot through their user installs only (`invoke(..., install="user")`).
        Take USE_EXTERNAL_APPS out of `everyone_permissions` to have the app's answers forced
        ephemeral there (grant it back to some with `add_member(..., permissions=USE_EXTERNAL_APPS)`)."""
        if owner_id is None:
            owner_id = self.add_user(f"owner-of-{name}").id
        snowflakes = self.state.snowflakes
        guild_id = snowflakes.next() if shard is None else snowflakes.next_on_shard(*shard)
        guild = Guild(
            id=guild_id,
            name=name,
            owner_id=owner_id,
            everyone_permissions=everyone_permissions,
            bot_member=bot_member,
        )
        self.state.guilds[guild.id] = guild
        self.state.bot_permissions[guild.id] = bot_permissions
        return guild

    def add_channel(self, guild_id: int, name: str, *, nsfw: bool = False) -> Channel:
        guild = self.state.guilds[guild_id]
        channel = Channel(
            id=self.state.snowflakes.next(),
            guild_id=guild_id,
            name=name,
            nsfw=nsfw,
            type=GUILD_TEXT,
            position=len(guild.channel_ids),
        )
        self.state.channels[channel.id] = channel
        guild.channel_ids.append(channel.id)
        return channel

    def add_thread(self, channel_id: int, name: str, *, owner_id: int | None = None) -> Channel:
        parent = self.state.channels[channel_id]
        assert parent.guild_id is not None, "threads live in guild channels"
        thread = Channel(
            id=self.state.snowflakes.next(),
            guild_id=parent.guild_id,
            name=name,
            nsfw=parent.nsfw,
            type=PUBLIC_THREAD,
            parent_id=parent.id,
            owner_id=owner_id or self.bot_user_id,
        )
        self.state.channels[thread.id] = thread
        self.state.guilds[parent.guild_id].channel_ids.append(thread.id)
        return thread

    def add_role(self, guild_id: int, name: str, permissions: int = 0) -> Role:
        guild = self.state.guilds[guild_id]
        role = Role(
            id=self.state.snowflakes.next(),
            guild_id=guild_id,
            name=name,
            permissions=permissions,
            position=len(guild.role_ids) + 1,
        )
        self.state.roles[role.id] = role
        guild.role_ids.append(role.id)
        return role

    def add_member(
        self,
        guild_id: int,
        user_id: int,
        permissions: int = 0,
        *,
        roles: list[int] | None = None,
        nick: str | None = None,
    ) -> Member:
        """`permissions` are granted through a per-member role so guild_permissions agree too."""
        role_ids = list(roles or [])
        if permissions:
            username = self.state.users[user_id].username
            role_ids.append(self.add_role(guild_id, f"perms:{username}", permissions).id)
        member = Member(guild_id=guild_id, user_id=user_id, role_ids=role_ids, nick=nick)
        self.state.members[(guild_id, user_id)] = member
        guild = self.state.guilds[guild_id]
        if user_id not in guild.member_ids:
            guild.member_ids.append(user_id)
        return member

    def install_for_user(self, user: User) -> None:
        """`user` adds the app to their account (USER_INSTALL): commands with integration_types 1
        then run for them anywhere their contexts allow, with "1": their id among the owners."""
        self.state.user_installs.add(user.id)

    def add_group_dm(self, users: Iterable[User], *, name: str = "") -> Channel:
        """A group DM (type 3) of `users` (the first owns it); the bot is never a member: only the
        members' user installs reach it (context 2) and the bot's REST calls to it get 403 50001."""
        members = list(users)
        if not members:
            raise InteractionSpecError("a group DM needs members")
        channel = Channel(
            id=self.state.snowflakes.next(),
            guild_id=None,
            name=name,
            type=GROUP_DM,
            owner_id=members[0].id,
            recipient_ids=[u.id for u in members],
        )
        self.state.channels[channel.id] = channel
        return channel

    async def join_guild(self, guild: Guild) -> None:
        """The bot joins a guild added after it connected (or one added with `bot_member=False`):
        GUILD_CREATE to the shard owning it."""
        guild.bot_member = True
        await self.gateway.dispatch("GUILD_CREATE", guild_create_payload(self.state, guild))

    # ---- observation -------------------------------------------------------------------------

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        return list(self.state.commands.get(guild_id, []))

    def channel_messages(self, channel_id: int) -> list[Message]:
        return self.state.channel_messages(channel_id)

    @property
    def interactions(self) -> list[Interaction]:
        return list(self.state.interactions.values())

    async def wait_until_ready(self, timeout: float = 30.0, *, sessions: int = 1) -> None:  # noqa: ASYNC109 (public test API)
        """Wait until the bot IDENTIFYed and got READY + GUILD_CREATEs (`sessions`: total READYs)."""
        await self.state.notifier.wait_for(
            lambda: bool(self.gateway.ready_sessions) and self.gateway.ready_count >= sessions,
            timeout,
            lambda: (
                f"ready_count={self.gateway.ready_count} connections={len(self.gateway.sessions)}\n"
                f"requests={self.requests[-20:]}"
            ),
        )

    async def wait_for_message(self, predicate: Callable[[Message], Any], timeout: float = 5.0) -> Message:  # noqa: ASYNC109 (public test API)
        def find() -> Message | None:
            return next((m for m in self.state.messages.values() if predicate(m)), None)

        def dump() -> str:
            return pprint.pformat(list(self.state.messages.values())[-10:], width=120)

        return await self.state.notifier.wait_for(find, timeout, dump)

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109 (public test API)
        """Generic wait on anything in the fake (re-checked after every change)."""
        return await self.state.notifier.wait_for(predicate, timeout, lambda: pprint.pformat(self.requests[-20:]))

    # ---- gateway events and interactions ----------------------------------------------------------

    async def dispatch(self, event: str, data: JsonObj) -> None:
        await self.gateway.dispatch(event, data)

    def _new_interaction(
        self,
        kind: int,
        user: User,
        channel: Channel,
        data: JsonObj,
        auth: Authorization,
        *,
        source: Message | None = None,
    ) -> Interaction:
        ix_id = self.state.snowflakes.next()
        token = f"aW50ZXJhY3Rpb246{ix_id}:{secrets.token_urlsafe(48)}"
        payload = base_payload(
            self.state,
            interaction_id=ix_id,
            token=token,
            kind=kind,
            data=data,
            user=user,
            channel=channel,
            context=auth.context,
            owners=auth.owners,
            app_permissions=auth.app_permissions,
            locale=user.locale,
        )
        if source is not None:
            payload["message"] = message_payload(self.state, self.base_url, source)
        ix = Interaction(
            id=ix_id,
            token=token,
            type=kind,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            user_id=user.id,
            payload=payload,
            source_message=source,
            forced_ephemeral=auth.forced_ephemeral,
            _notifier=self.state.notifier,
        )
        self.state.interactions[ix_id] = ix
        return ix

    def _command_auth(self, user: User, channel: Channel, data: JsonObj, install: Install) -> Authorization:
        command = self.state.command_by_id(data["id"])
        assert command is not None, "command_data found it"
        return authorize_command(self.state, user, channel, command, install)

    def expire_token(self, ix: Interaction) -> None:
        """Age `ix` past its token's 15 minutes: its follow-ups and edits get 401 50027 (Invalid
        Webhook Token), its callback 10062, while new interactions stay fresh (unlike
        `time_offset`, which ages every interaction, new ones included)."""
        ix.created_at -= INTERACTION_TOKEN_LIFETIME + 1
        self.state.changed()

    async def _send_interaction(self, ix: Interaction) -> Interaction:
        # The 3 s window starts when the event leaves the gateway.
        ix.created_at = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", ix.payload)
        return ix

    async def invoke(
        self,
        user: User,
        channel: Channel | int,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        install: Install = "guild",
    ) -> Interaction:
        """Run a slash command; `name` may be "group sub command" for nested subcommands.
        `install`: through the guild install (the bot is in the guild; in the bot's DM) or the
        user's own (`install_for_user`; anywhere, group DMs and guilds without the bot included).
        The payload's context/owners/app_permissions follow Discord (see installs.py); a command
        Discord would not offer there or that way raises InteractionSpecError."""
        chan = choose_channel(self.state, channel)
        data = command_data(self.state, self.base_url, name, options or {}, chan.guild_id, chan.id)
        auth = self._command_auth(user, chan, data, install)
        return await self._send_interaction(self._new_interaction(APPLICATION_COMMAND, user, chan, data, auth))

    async def autocomplete(
        self,
        user: User,
        channel: Channel | int,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        install: Install = "guild",
    ) -> Interaction:
        if focused not in options:
            raise InteractionSpecError(f"focused option {focused!r} must be among the options given")
        chan = choose_channel(self.state, channel)
        data = command_data(self.state, self.base_url, name, options, chan.guild_id, chan.id, focused=focused)
        auth = self._command_auth(user, chan, data, install)
        return await self._send_interaction(self._new_interaction(AUTOCOMPLETE, user, chan, data, auth))

    async def dm_invoke(
        self, user: User, name: str, options: dict[str, Any] | None = None, *, install: Install = "guild"
    ) -> Interaction:
        """A slash command in `user`'s DM with the bot (context 1)."""
        return await self.invoke(user, self.state.dm_channel(user.id), name, options, install=install)

    async def click(
        self, user: User, message: Message, custom_id: str, *, values: list[str] | None = None
    ) -> Interaction:
        """Press a button (or pick select `values`) on a message the bot sent."""
        component = find_component(message.components, custom_id)
        if component is None:
            raise InteractionSpecError(f"no component {custom_id!r} on message {message.id}: {message.components}")
        data: JsonObj = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = values
        chan = choose_channel(self.state, message.channel_id)
        origin = self.state.interactions.get(message.interaction_id or 0)
        # The click carries the owners/context of the interaction that made the message.
        auth = inherit(self.state, user, chan, origin) if origin else authorize_place(self.state, user, chan)
        ix = self._new_interaction(MESSAGE_COMPONENT, user, chan, data, auth, source=message)
        return await self._send_interaction(ix)

    async def submit_modal(self, user: User, shown_by: Interaction, values: dict[str, str]) -> Interaction:
        """Submit the modal the bot showed (callback type 9). `values` by text input custom_id (or
        label); inputs not named keep their prefilled `value`. The payload mirrors the modal's rows
        and labels. A modal shown from a component click carries that message, as on Discord, and
        may then be answered by updating it (callback 6/7)."""
        if shown_by.modal is None:
            raise InteractionSpecError("that interaction never showed a modal")
        data = modal_submit_data(shown_by.modal, values)
        chan = choose_channel(self.state, shown_by.channel_id or 0)
        auth = inherit(self.state, user, chan, shown_by)
        ix = self._new_interaction(MODAL_SUBMIT, user, chan, data, auth, source=shown_by.source_message)
        return await self._send_interaction(ix)

    async def context_menu(self, user: User, message: Message, name: str, *, install: Install = "guild") -> Interaction:
        """Run the message command `name` (context menu "Apps" > name) on `message`, which arrives
        in full, attachments and their CDN urls included, in `data.resolved.messages`. `install`
        as for `invoke`."""
        data = message_command_data(self.state, self.base_url, name, message)
        chan = choose_channel(self.state, message.channel_id)
        auth = self._command_auth(user, chan, data, install)
        return await self._send_interaction(self._new_interaction(APPLICATION_COMMAND, user, chan, data, auth))

    async def post_message(
        self,
        user: User,
        channel: Channel | int,
        content: str = "",
        *,
        attachments: Iterable[Attachment] = (),
        embeds: Iterable[JsonObj] = (),
    ) -> Message:
        """A message `user` posts in `channel` (files given ids and served by the CDN). The bot's
        sessions get MESSAGE_CREATE as Discord sends it (see `Gateway.dispatch_message_create`), unless
        the bot cannot see the channel (a guild without the bot, a group DM)."""
        chan = choose_channel(self.state, channel)
        files, embed_list = list(attachments), list(embeds)
        if not (content.strip() or files or embed_list):
            raise InteractionSpecError("Discord's client does not send an empty message")
        for att in files:
            att.id = att.id or self.state.snowflakes.next()
        message = Message(
            id=self.state.snowflakes.next(),
            channel_id=chan.id,
            content=content,
            embeds=embed_list,
            attachments=files,
            author_id=user.id,
        )
        self.state.add_message(message)
        payload = message_payload(self.state, self.base_url, message)
        if chan.guild_id is not None:
            member = member_payload(self.state, self.state.ensure_member(chan.guild_id, user.id))
            member.pop("user")  # MESSAGE_CREATE's member is partial; the user is `author`
            payload["member"] = member
        mentioned = [self.state.users[int(m)] for m in re.findall(r"<@!?(\d+)>", content) if int(m) in self.state.users]
        payload["mentions"] = [user_payload(u) for u in mentioned]
        if self.state.bot_can_access(chan):
            await self.gateway.dispatch_message_create(payload, mentions_bot=self.state.bot_user in mentioned)
        return message
