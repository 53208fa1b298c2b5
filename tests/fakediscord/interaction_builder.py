"""Build INTERACTION_CREATE payloads the way Discord does, from the commands the bot registered.

Option values given by tests as Python values are typed using the registered command's option
types, and snowflake options (user/channel/role/attachment) get Discord's `resolved` data, which
discord.py's Namespace needs to hand the command real objects.
"""

from __future__ import annotations

from typing import Any

from .payloads import (
    JsonObj,
    attachment_payload,
    channel_payload,
    member_payload,
    message_payload,
    role_payload,
    user_payload,
)
from .state import Attachment, Channel, DiscordState, Message, Role, User

# Application command option types.
SUB_COMMAND = 1
SUB_COMMAND_GROUP = 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
# Application command types.
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class InteractionSpecError(ValueError):
    """The test asked for something the bot never registered (unknown command/option), or that
    Discord's client would not let a user do (an empty message, a modal field left invalid)."""


def _snowflake(value: Any) -> int:
    if isinstance(value, (User, Channel, Role, Attachment)):
        return value.id
    return int(value)


class OptionBuilder:
    """Turns `{"prompt": "1girl", "steps": 4}` into typed option objects plus `resolved`."""

    def __init__(self, state: DiscordState, base_url: str, guild_id: int | None, channel_id: int) -> None:
        self.state = state
        self.base_url = base_url
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.resolved: dict[str, dict[str, JsonObj]] = {}

    def _resolve(self, kind: str, key: int, data: JsonObj) -> None:
        self.resolved.setdefault(kind, {})[str(key)] = data

    def _resolve_user(self, user_id: int) -> None:
        user = self.state.users.get(user_id)
        if user is None:
            raise InteractionSpecError(f"unknown user id {user_id}")
        self._resolve("users", user_id, user_payload(user))
        member = self.state.members.get((self.guild_id, user_id)) if self.guild_id else None
        if member is not None and self.guild_id is not None:
            perms = self.state.member_permissions(self.guild_id, user_id)
            data = member_payload(self.state, member, with_permissions=perms)
            data.pop("user")  # resolved members omit `user`; it sits in resolved.users
            self._resolve("members", user_id, data)

    def _typed_value(self, option: JsonObj, value: Any, focused: bool) -> Any:
        kind = option["type"]
        if focused:
            # Autocomplete sends whatever the user has typed so far, as a string.
            return str(value)
        if kind == STRING:
            return str(value)
        if kind == INTEGER:
            return int(value)
        if kind == NUMBER:
            return float(value)
        if kind == BOOLEAN:
            return bool(value)
        if kind == USER:
            return self._user_value(value)
        if kind == CHANNEL:
            return self._channel_value(value)
        if kind in (ROLE, MENTIONABLE):
            return self._role_value(kind, value)
        if kind == ATTACHMENT:
            return self._attachment_value(value)
        raise InteractionSpecError(f"option type {kind} is not supported by the fake")

    def _user_value(self, value: Any) -> str:
        uid = _snowflake(value)
        self._resolve_user(uid)
        return str(uid)

    def _channel_value(self, value: Any) -> str:
        channel = self.state.channels.get(_snowflake(value))
        if channel is None:
            raise InteractionSpecError(f"unknown channel {value!r}")
        data = channel_payload(self.state, channel, permissions_for=self.state.bot_user.id)
        self._resolve("channels", channel.id, data)
        return str(channel.id)

    def _role_value(self, kind: int, value: Any) -> str:
        # A mentionable that is not a role is a user.
        rid = _snowflake(value)
        if rid in self.state.roles:
            self._resolve("roles", rid, role_payload(self.state.roles[rid]))
        elif kind == MENTIONABLE:
            self._resolve_user(rid)
        else:
            raise InteractionSpecError(f"unknown role {value!r}")
        return str(rid)

    def _attachment_value(self, value: Any) -> str:
        if not isinstance(value, Attachment):
            raise InteractionSpecError("attachment options take an Attachment record")
        if not value.id:
            value.id = self.state.snowflakes.next()
        self.state.uploads[value.id] = (self.channel_id, value)
        self._resolve("attachments", value.id, attachment_payload(self.base_url, self.channel_id, value))
        return str(value.id)

    def build(self, registered: list[JsonObj], values: dict[str, Any], focused: str | None = None) -> list[JsonObj]:
        by_name = {opt["name"]: opt for opt in registered}
        out: list[JsonObj] = []
        for name, value in values.items():
            option = by_name.get(name)
            if option is None:
                raise InteractionSpecError(f"option {name!r} not registered; known: {sorted(by_name)}")
            is_focused = name == focused
            item: JsonObj = {
                "name": name,
                "type": option["type"],
                "value": self._typed_value(option, value, is_focused),
            }
            if is_focused:
                item["focused"] = True
            out.append(item)
        return out


def command_data(
    state: DiscordState,
    base_url: str,
    path: str,
    values: dict[str, Any],
    guild_id: int | None,
    channel_id: int,
    focused: str | None = None,
) -> JsonObj:
    """`data` for a chat-input command; `path` may be "group sub command" for nested commands."""
    root_name, *sub_names = path.split()
    command = state.find_command(root_name, guild_id)
    if command is None:
        known = sorted({c["name"] for scope in (guild_id, None) for c in state.commands.get(scope, [])})
        raise InteractionSpecError(f"command {root_name!r} is not registered (registered: {known})")
    builder = OptionBuilder(state, base_url, guild_id, channel_id)

    def nest(registered: list[JsonObj], remaining: list[str]) -> list[JsonObj]:
        if not remaining:
            return builder.build(registered, values, focused)
        head = remaining[0]
        for opt in registered:
            if opt["name"] == head and opt["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP):
                return [{"name": head, "type": opt["type"], "options": nest(opt.get("options") or [], remaining[1:])}]
        raise InteractionSpecError(f"subcommand {head!r} not found under {path!r}")

    data: JsonObj = {
        "id": command["id"],
        "name": root_name,
        "type": 1,
        "options": nest(command.get("options") or [], sub_names),
    }
    if builder.resolved:
        data["resolved"] = builder.resolved
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def message_command_data(state: DiscordState, base_url: str, name: str, message: Message) -> JsonObj:
    """`data` for a message context menu ("Apps" > name on a message): the target in `resolved`."""
    if message.deleted or message.ephemeral:
        raise InteractionSpecError(f"message {message.id} is deleted or ephemeral: no app commands on it")
    channel = choose_channel(state, message.channel_id)
    command = state.find_command(name, channel.guild_id, MESSAGE_COMMAND)
    if command is None:
        scopes = (channel.guild_id, None)
        known = sorted({c["name"] for s in scopes for c in state.commands.get(s, []) if c.get("type") == 3})
        raise InteractionSpecError(f"no message command {name!r} is registered (message commands: {known})")
    data: JsonObj = {
        "id": command["id"],
        "name": name,
        "type": MESSAGE_COMMAND,
        "target_id": str(message.id),
        "resolved": {"messages": {str(message.id): message_payload(state, base_url, message)}},
    }
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def find_component(components: list[JsonObj], custom_id: str) -> JsonObj | None:
    for comp in components:
        if comp.get("custom_id") == custom_id:
            return comp
        inner = find_component(comp.get("components") or [], custom_id)
        if inner is not None:
            return inner
        accessory = comp.get("accessory")
        if isinstance(accessory, dict) and accessory.get("custom_id") == custom_id:
            return accessory
    return None


def base_payload(
    state: DiscordState,
    *,
    interaction_id: int,
    token: str,
    kind: int,
    data: JsonObj,
    user: User,
    channel: Channel,
    context: int,
    owners: dict[str, str],
    app_permissions: int,
    locale: str = "en-US",
) -> JsonObj:
    """Every field PROTOCOL.md lists; discord.py KeyErrors on some (attachment_size_limit...).
    `context`, `owners` (authorizing_integration_owners) and `app_permissions` come from installs.py."""
    payload: JsonObj = {
        "id": str(interaction_id),
        "application_id": str(state.application_id),
        "type": kind,
        "data": data,
        "token": token,
        "version": 1,
        "locale": locale,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        "channel_id": str(channel.id),
        "app_permissions": str(app_permissions),
        "authorizing_integration_owners": owners,
        "context": context,
    }
    guild = state.guild_of(channel)
    if guild is not None:
        member = state.ensure_member(guild.id, user.id)
        payload.update(
            guild_id=str(guild.id),
            guild={"id": str(guild.id), "locale": guild.locale, "features": []},
            guild_locale=guild.locale,
            channel=channel_payload(state, channel, permissions_for=user.id),
            member=member_payload(state, member, with_permissions=state.member_permissions(guild.id, user.id)),
        )
    else:
        payload.update(channel=channel_payload(state, channel), user=user_payload(user))
    return payload


def choose_channel(state: DiscordState, channel: Channel | int) -> Channel:
    found = state.channels.get(_snowflake(channel))
    if found is None:
        raise InteractionSpecError(f"unknown channel {channel!r}")
    return found
