"""In-memory data model of the fake Discord: records the tests read, plus the store that owns them.

Records are plain dataclasses so tests can inspect them directly. Everything that changes a
record goes through `DiscordState`, which pokes a `ChangeNotifier` so `wait_for` helpers wake up.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import pprint
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import components_v2

# Discord's epoch (2015-01-01) in ms; snowflakes encode a timestamp so ids sort by creation.
DISCORD_EPOCH_MS = 1420070400000

# Message flags we care about.
EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Permission bits (see Discord's permission table).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
# Lets members' user-installed apps answer publicly where the app is not installed (on by default).
USE_EXTERNAL_APPS = 1 << 50
ALL_PERMISSIONS = (1 << 53) - 1
_BASE_PERMISSIONS = (
    (1 << 6)  # add reactions
    | (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | EMBED_LINKS
    | ATTACH_FILES
    | (1 << 16)  # read message history
    | USE_EXTERNAL_EMOJIS
    | (1 << 31)  # use application commands
    | (1 << 35)  # create public threads
    | (1 << 38)  # send messages in threads
)
DEFAULT_EVERYONE_PERMISSIONS = _BASE_PERMISSIONS | USE_EXTERNAL_APPS
DEFAULT_BOT_PERMISSIONS = _BASE_PERMISSIONS | (1 << 13)  # + manage messages

# Channel types.
GUILD_TEXT = 0
DM = 1
GROUP_DM = 3
PUBLIC_THREAD = 11

T = TypeVar("T")


class SnowflakeGenerator:
    """Makes increasing snowflake ids: real timestamp bits, a counter in the low bits."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (next(self._counter) & 0xFFF)
        # Guarantee strict monotonicity even if the counter wraps within one millisecond.
        value = max(value, self._last + 1)
        self._last = value
        return value

    def next_on_shard(self, shard_id: int, shard_count: int) -> int:
        """An id whose events shard `shard_id` of `shard_count` receives (its timestamp bits moved
        forward by at most shard_count - 1 ms; ids stay increasing)."""
        value = self.next()
        ms = (value >> 22) + (shard_id - (value >> 22)) % shard_count
        value = max(value, ms << 22)
        self._last = value
        return value


class ChangeNotifier:
    """Wakes every waiter whenever anything in the fake server changes.

    An Event that is swapped on each change lets synchronous code (REST handlers, gateway)
    signal without `async with condition` boilerplate, and waiters re-check their predicate.
    """

    POLL_INTERVAL = 0.05

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def _current(self) -> asyncio.Event:
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float, describe: Callable[[], str]) -> T:  # noqa: ASYNC109 (public test API)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s; state:\n{describe()}")
            event = self._current()
            # Also poll now and then: predicates may look at state outside the fake (the bot's).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, self.POLL_INTERVAL))


@dataclass
class User:
    id: int
    username: str
    bot: bool = False
    global_name: str | None = None
    locale: str = "en-US"  # the member's client language: their interactions' `locale`


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS
    locale: str = "en-US"
    role_ids: list[int] = field(default_factory=list)
    channel_ids: list[int] = field(default_factory=list)
    member_ids: list[int] = field(default_factory=list)
    # False: the app is not installed here (no bot member, no GUILD_CREATE); only members' user
    # installs reach it, and the bot's REST calls to it get 403 Missing Access.
    bot_member: bool = True


@dataclass
class Channel:
    id: int
    guild_id: int | None
    name: str
    nsfw: bool = False
    type: int = GUILD_TEXT
    parent_id: int | None = None
    position: int = 0
    owner_id: int | None = None  # thread creator, group DM owner
    recipient_id: int | None = None  # DM partner
    recipient_ids: list[int] = field(default_factory=list)  # group DM members (the bot is never one)

    @property
    def is_thread(self) -> bool:
        return self.type in (10, 11, 12)


@dataclass
class Member:
    guild_id: int
    user_id: int
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = "2024-01-01T00:00:00+00:00"


@dataclass
class Attachment:
    """A file: one the bot uploaded, one a member posted, or one a test passes to an option.

    `declared_size` makes the payload's `size` differ from `len(data)` (a bot that trusts or checks
    it); `width`/`height` default to what the image header says (None for non-images), as Discord's
    are. The CDN answers this file after `cdn_delay` seconds with `cdn_status` (non-200: no data),
    and counts requests in `downloads`."""

    filename: str
    content_type: str | None
    data: bytes
    description: str | None = None
    id: int = 0
    declared_size: int | None = None
    width: int | None = None
    height: int | None = None
    cdn_delay: float = 0.0
    cdn_status: int = 200
    downloads: int = 0

    @property
    def size(self) -> int:
        return len(self.data) if self.declared_size is None else self.declared_size

    @property
    def dimensions(self) -> tuple[int, int] | None:
        """(width, height) as Discord reports them: the fields if set, else the image's own."""
        if self.width is not None and self.height is not None:
            return self.width, self.height
        try:
            from PIL import Image  # a project dependency; opening reads the header only

            with Image.open(io.BytesIO(self.data)) as image:
                return image.size
        except Exception:
            return None


@dataclass
class Message:
    id: int
    channel_id: int
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    author_id: int = 0
    edits: list[float] = field(default_factory=list)
    # What the message was after its creation and each edit: flags, content, embeds, components
    # and attachment names (tests check e.g. that a message was a V2 layout from the start).
    versions: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False
    interaction_id: int | None = None
    created_at: float = field(default_factory=time.monotonic)
    type: int = 0
    webhook_id: int | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    @property
    def v2(self) -> bool:
        """A Components V2 layout (no content or embeds; its text is in text displays)."""
        return bool(self.flags & components_v2.IS_COMPONENTS_V2)

    @property
    def text(self) -> str:
        """What a member reads: the content and every text display, one per line."""
        return "\n".join([self.content, *components_v2.texts(self.components)]).strip("\n")

    @property
    def custom_ids(self) -> list[str]:
        """Every button's (or select's) custom id, however deep in the layout."""
        return components_v2.custom_ids(self.components)

    @property
    def gallery(self) -> list[dict[str, Any]]:
        """The media gallery items, in order: {"media": {"url": ...}, "spoiler": ...}."""
        return components_v2.gallery_items(self.components)


@dataclass
class CallbackRecord:
    """One accepted initial interaction response (POST .../callback)."""

    type: int
    data: dict[str, Any] | None
    received_after: float  # seconds since the interaction was dispatched (time_offset included)


@dataclass
class Interaction:
    id: int
    token: str
    type: int
    channel_id: int | None
    guild_id: int | None
    user_id: int
    payload: dict[str, Any]
    created_at: float = field(default_factory=time.monotonic)
    responses: list[CallbackRecord] = field(default_factory=list)
    followups: list[Message] = field(default_factory=list)
    original: Message | None = None
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    # For component interactions: the message whose component was clicked (target of types 6/7).
    source_message: Message | None = None
    # Set once the first follow-up after a type-5 defer has filled in the "thinking" message.
    defer_filled: bool = False
    # A user-installed app answering where it is not installed, for a member without Use External
    # Apps: Discord makes the initial response and every follow-up ephemeral.
    forced_ephemeral: bool = False
    # Requests the platform refused (late, duplicate, expired token...), for debugging tests.
    rejected: list[str] = field(default_factory=list)
    _notifier: ChangeNotifier = field(default_factory=ChangeNotifier, repr=False)

    @property
    def owners(self) -> dict[str, str]:
        """`authorizing_integration_owners` as sent: {"0": guild id or "0", "1": installing user}."""
        owners: dict[str, str] = self.payload.get("authorizing_integration_owners") or {}
        return owners

    @property
    def user_install_only(self) -> bool:
        """Authorized by the user install alone: Discord caps follow-ups at 5."""
        return set(self.owners) == {"1"}

    @property
    def all_messages(self) -> list[Message]:
        """The original response (if any) followed by follow-ups, skipping deleted ones."""
        found = ([self.original] if self.original else []) + self.followups
        return [m for m in found if not m.deleted]

    async def wait_for(self, predicate: Callable[[Interaction], Any], timeout: float = 5.0) -> Interaction:  # noqa: ASYNC109 (public test API)
        await self._notifier.wait_for(lambda: self if predicate(self) else None, timeout, self.dump)
        return self

    async def wait_response(self, timeout: float = 5.0) -> CallbackRecord:  # noqa: ASYNC109 (public test API)
        await self.wait_for(lambda ix: bool(ix.responses), timeout)
        return self.responses[0]

    def dump(self) -> str:
        return pprint.pformat(
            {
                "id": self.id,
                "type": self.type,
                "responses": self.responses,
                "original": self.original,
                "followups": self.followups,
                "choices": self.choices,
                "owners": self.owners,
                "forced_ephemeral": self.forced_ephemeral,
                "rejected": self.rejected,
            },
            width=120,
        )


@dataclass
class DiscordState:
    """Everything the fake server knows. Mutations go through methods that notify waiters."""

    application_id: int
    bot_user: User
    snowflakes: SnowflakeGenerator
    notifier: ChangeNotifier = field(default_factory=ChangeNotifier)
    users: dict[int, User] = field(default_factory=dict)
    guilds: dict[int, Guild] = field(default_factory=dict)
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[tuple[int, int], Member] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    interactions: dict[int, Interaction] = field(default_factory=dict)
    # Registered commands: key None = global, else guild id.
    commands: dict[int | None, list[dict[str, Any]]] = field(default_factory=dict)
    bot_permissions: dict[int, int] = field(default_factory=dict)  # guild id -> bot's permissions
    # Files tests attach to attachment options: id -> (channel id, attachment), served like CDN files.
    uploads: dict[int, tuple[int, Attachment]] = field(default_factory=dict)
    # Users who added the app to their account (USER_INSTALL).
    user_installs: set[int] = field(default_factory=set)

    def changed(self) -> None:
        self.notifier.notify()

    # ---- lookups -------------------------------------------------------------------------

    def channel(self, channel_id: int) -> Channel | None:
        return self.channels.get(channel_id)

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id is not None else None

    def parent_channel(self, channel: Channel) -> Channel:
        """Threads inherit nsfw/permissions from their parent channel."""
        if channel.is_thread and channel.parent_id in self.channels:
            return self.channels[channel.parent_id]
        return channel

    def member_permissions(self, guild_id: int, user_id: int) -> int:
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        if user_id == self.bot_user.id:
            perms = self.bot_permissions.get(guild_id, DEFAULT_BOT_PERMISSIONS)
        else:
            perms = guild.everyone_permissions
            member = self.members.get((guild_id, user_id))
            for role_id in member.role_ids if member else []:
                perms |= self.roles[role_id].permissions
        # Administrator implies every permission, as on Discord.
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def bot_can_access(self, channel: Channel) -> bool:
        """Whether the bot user sees `channel`: guild channels where the app is installed and its own
        DMs; never a guild without the bot nor a group DM (the bot is never a member)."""
        if channel.type == GROUP_DM:
            return False
        guild = self.guild_of(channel)
        return guild is None or guild.bot_member

    def shares_guild_with_bot(self, user_id: int) -> bool:
        return any(g.bot_member and user_id in g.member_ids for g in self.guilds.values())

    def command_by_id(self, command_id: str) -> dict[str, Any] | None:
        return next((c for cmds in self.commands.values() for c in cmds if c["id"] == command_id), None)

    def interaction_by_token(self, token: str) -> Interaction | None:
        for ix in self.interactions.values():
            if ix.token == token:
                return ix
        return None

    def channel_messages(self, channel_id: int) -> list[Message]:
        return [m for m in self.messages.values() if m.channel_id == channel_id]

    def find_command(self, name: str, guild_id: int | None, kind: int = 1) -> dict[str, Any] | None:
        """Guild commands shadow global ones, like Discord's client picker does in practice.
        `kind`: 1 chat input (slash), 2 user context menu, 3 message context menu."""
        scopes: list[int | None] = [guild_id, None] if guild_id is not None else [None]
        for scope in scopes:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == kind:
                    return cmd
        return None

    def ensure_member(self, guild_id: int, user_id: int) -> Member:
        """Tests may act as a user they never added to the guild: make them a plain member."""
        member = self.members.get((guild_id, user_id))
        if member is None:
            member = self.members[(guild_id, user_id)] = Member(guild_id=guild_id, user_id=user_id)
            self.guilds[guild_id].member_ids.append(user_id)
        return member

    def dm_channel(self, user_id: int) -> Channel:
        for ch in self.channels.values():
            if ch.type == DM and ch.recipient_id == user_id:
                return ch
        ch = Channel(id=self.snowflakes.next(), guild_id=None, name="", type=DM, recipient_id=user_id)
        self.channels[ch.id] = ch
        return ch

    def add_message(self, message: Message) -> Message:
        self.messages[message.id] = message
        self.changed()
        return message
