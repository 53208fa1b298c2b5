"""Turn state records into Discord JSON objects, with every key discord.py 2.7.1 indexes directly.

discord.py reads many fields with `data["key"]` (KeyError otherwise), so these builders err on the
side of including complete objects rather than minimal ones.
"""

from __future__ import annotations

import datetime
from typing import Any

from .state import DM, GROUP_DM, Attachment, Channel, DiscordState, Guild, Member, Message, Role, User

JsonObj = dict[str, Any]

GATEWAY_VERSION = 10


def iso(ts: float | None = None) -> str:
    when = datetime.datetime.now(datetime.UTC) if ts is None else datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return when.isoformat()


def snowflake_time(snowflake: int) -> str:
    return iso(((snowflake >> 22) + 1420070400000) / 1000)


def user_payload(user: User) -> JsonObj:
    return {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": None,
        "bot": user.bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
    }


def bot_user_payload(user: User) -> JsonObj:
    # The READY / @me user also carries account-level fields (ClientUser reads them with .get).
    return {**user_payload(user), "verified": True, "mfa_enabled": False, "locale": "en-US", "email": None}


def role_payload(role: Role) -> JsonObj:
    return {
        "id": str(role.id),
        "name": role.name,
        "permissions": str(role.permissions),
        "position": role.position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "managed": role.managed,
        "mentionable": False,
        "flags": 0,
    }


def everyone_role_payload(guild: Guild) -> JsonObj:
    # The @everyone role shares the guild's id.
    return role_payload(Role(id=guild.id, guild_id=guild.id, name="@everyone", permissions=guild.everyone_permissions))


def member_payload(state: DiscordState, member: Member, *, with_permissions: int | None = None) -> JsonObj:
    data: JsonObj = {
        "user": user_payload(state.users[member.user_id]),
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in member.role_ids],
        "joined_at": member.joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }
    if with_permissions is not None:
        # Interaction members carry their computed permissions in the channel, as a string.
        data["permissions"] = str(with_permissions)
    return data


def thread_metadata() -> JsonObj:
    return {
        "archived": False,
        "auto_archive_duration": 1440,
        "archive_timestamp": iso(),
        "locked": False,
        "invitable": True,
        "create_timestamp": iso(),
    }


def channel_payload(state: DiscordState, channel: Channel, *, permissions_for: int | None = None) -> JsonObj:
    """A channel object; `permissions_for` adds the `permissions` a user has there (interactions)."""
    if channel.type == DM:
        recipient = state.users.get(channel.recipient_id or 0)
        return {
            "id": str(channel.id),
            "type": DM,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user_payload(recipient)] if recipient else [],
        }
    if channel.type == GROUP_DM:
        return {
            "id": str(channel.id),
            "type": GROUP_DM,
            "name": channel.name or None,
            "icon": None,
            "owner_id": str(channel.owner_id) if channel.owner_id else None,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user_payload(state.users[u]) for u in channel.recipient_ids],
        }
    parent = state.parent_channel(channel)
    data: JsonObj = {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(channel.guild_id),
        "name": channel.name,
        "position": channel.position,
        # Threads have no nsfw flag of their own on Discord; they inherit the parent's.
        "nsfw": parent.nsfw,
        "permission_overwrites": [],
        "parent_id": str(channel.parent_id) if channel.parent_id else None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }
    if channel.is_thread:
        data.pop("permission_overwrites")
        data.pop("position")
        data.update(
            owner_id=str(channel.owner_id or state.bot_user.id),
            message_count=0,
            member_count=1,
            total_message_sent=0,
            thread_metadata=thread_metadata(),
        )
    if permissions_for is not None and channel.guild_id is not None:
        data["permissions"] = str(state.member_permissions(channel.guild_id, permissions_for))
    return data


def guild_roles(state: DiscordState, guild: Guild) -> list[JsonObj]:
    return [everyone_role_payload(guild)] + [role_payload(state.roles[r]) for r in guild.role_ids]


def bot_member(state: DiscordState, guild: Guild) -> Member:
    return Member(guild_id=guild.id, user_id=state.bot_user.id)


def guild_create_payload(state: DiscordState, guild: Guild) -> JsonObj:
    channels = [state.channels[c] for c in guild.channel_ids]
    members = [bot_member(state, guild)] + [state.members[(guild.id, u)] for u in guild.member_ids]
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": guild.locale,
        "features": [],
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "roles": guild_roles(state, guild),
        "emojis": [],
        "stickers": [],
        "unavailable": False,
        "large": False,
        "lazy": True,
        "joined_at": iso(),
        "member_count": len(members),
        "members": [member_payload(state, m) for m in members],
        "channels": [channel_payload(state, c) for c in channels if not c.is_thread],
        "threads": [channel_payload(state, c) for c in channels if c.is_thread],
        "voice_states": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def attachment_payload(base_url: str, channel_id: int, att: Attachment) -> JsonObj:
    url = f"{base_url}/attachments/{channel_id}/{att.id}/{att.filename}"
    data: JsonObj = {
        "id": str(att.id),
        "filename": att.filename,
        "size": att.size,
        "url": url,
        "proxy_url": url,
        "content_type": att.content_type,
    }
    if att.description is not None:
        data["description"] = att.description
    dimensions = att.dimensions
    if dimensions is not None:
        # Discord reports the pixel size of images (and videos); other files have neither key.
        data["width"], data["height"] = dimensions
    return data


def message_payload(state: DiscordState, base_url: str, message: Message) -> JsonObj:
    channel = state.channels.get(message.channel_id)
    author = state.users.get(message.author_id, state.bot_user)
    data: JsonObj = {
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "type": message.type,
        "author": user_payload(author),
        "content": message.content,
        "timestamp": snowflake_time(message.id),
        "edited_timestamp": iso() if message.edits else None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [attachment_payload(base_url, message.channel_id, a) for a in message.attachments],
        "embeds": message.embeds,
        "components": message.components,
        "pinned": False,
        "flags": message.flags,
    }
    if channel is not None and channel.guild_id is not None:
        data["guild_id"] = str(channel.guild_id)
    if message.webhook_id is not None:
        data["webhook_id"] = str(message.webhook_id)
        data["application_id"] = str(state.application_id)
    ix = state.interactions.get(message.interaction_id or 0)
    if ix is not None:
        invoker = user_payload(state.users[ix.user_id])
        data["interaction_metadata"] = {
            "id": str(ix.id),
            "type": ix.type,
            "user": invoker,
            "authorizing_integration_owners": ix.payload.get("authorizing_integration_owners", {}),
        }
        data["interaction"] = {
            "id": str(ix.id),
            "type": ix.type,
            "name": ix.payload.get("data", {}).get("name", ""),
            "user": invoker,
        }
    return data


def application_payload(state: DiscordState, owner: User) -> JsonObj:
    return {
        "id": str(state.application_id),
        "name": state.bot_user.username,
        "icon": None,
        "description": "fake application for tests",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": user_payload(owner),
        "team": None,
        "flags": 0,
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "approximate_guild_count": sum(1 for g in state.guilds.values() if g.bot_member),
        "bot": user_payload(state.bot_user),
    }
