"""Where an app's commands may run and who authorized each interaction: guild and user installs.

Discord's model (Receiving and Responding > Authorizing Integration Owners Object):

- A command's `integration_types` say how it can be installed: 0 GUILD_INSTALL (the default), 1
  USER_INSTALL. Its `contexts` say where it can be used: 0 GUILD, 1 BOT_DM, 2 PRIVATE_CHANNEL (group
  DMs and DMs between users). `contexts: null` means all of them, except that `dm_permission: false`
  keeps a command in guilds. Guild-scoped commands belong to that guild's install only.
- An interaction's `authorizing_integration_owners` has key "0" when the app's guild install covers
  it (value: the guild's id, or "0" in the bot's DM) and key "1" when the invoking user's own install
  does (value: that user's id), each only if the command supports that install and context.
- A component or modal interaction carries the owners and context of the interaction whose message
  (or modal) it came from: the "1" value still names who installed the app, whoever clicks.
- `app_permissions` where the bot is not a member: the @everyone permissions of the guild limited to
  what interaction responses can use (ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE |
  USE_EXTERNAL_EMOJIS); in group DMs ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE; in the bot's DM
  through a user install the four (442368, the value in Discord's own sample payload).
- Follow-ups are capped at 5 when the user install is the only owner (40094 after that), and a
  member without USE_EXTERNAL_APPS in a guild where the app is not installed only ever sees
  ephemeral answers: Discord sets EPHEMERAL itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .interaction_builder import InteractionSpecError
from .payloads import JsonObj
from .state import (
    ATTACH_FILES,
    DM,
    EMBED_LINKS,
    GROUP_DM,
    MENTION_EVERYONE,
    USE_EXTERNAL_APPS,
    USE_EXTERNAL_EMOJIS,
    Channel,
    DiscordState,
    Guild,
    Interaction,
    User,
)

GUILD_INSTALL, USER_INSTALL = 0, 1
GUILD, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2
ALL_CONTEXTS = [GUILD, BOT_DM, PRIVATE_CHANNEL]
RESPONSE_PERMISSIONS = ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE | USE_EXTERNAL_EMOJIS  # 442368
PRIVATE_CHANNEL_PERMISSIONS = ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE  # 180224
# In the bot's DM through the guild install only: what the fake always sent (unchanged).
LEGACY_BOT_DM_PERMISSIONS = (1 << 53) - 1
FOLLOWUP_LIMIT = 5

Install = Literal["guild", "user"]


@dataclass
class Authorization:
    """What Discord puts in an interaction about installs, and the rules that follow from it."""

    context: int
    owners: dict[str, str]
    app_permissions: int
    forced_ephemeral: bool = False


def interaction_context(state: DiscordState, channel: Channel) -> int:
    if state.guild_of(channel) is not None:
        return GUILD
    if channel.type == DM:
        return BOT_DM
    return PRIVATE_CHANNEL


def allowed_installs(command: JsonObj) -> list[int]:
    if command.get("guild_id"):
        return [GUILD_INSTALL]  # guild commands live in that guild's install only
    return list(command.get("integration_types") or [GUILD_INSTALL])


def allowed_contexts(command: JsonObj) -> list[int]:
    if command.get("guild_id"):
        return [GUILD]
    contexts = command.get("contexts")
    if contexts is not None:
        return list(contexts)
    return [GUILD] if command.get("dm_permission") is False else list(ALL_CONTEXTS)


def _guild_owner(state: DiscordState, user: User, channel: Channel, context: int, install: Install) -> str | None:
    """The "0" value when the app's guild install reaches this place, else None. In the bot's DM a
    run through the user install counts the guild install too only if the user shares a guild with
    the bot (that is how the guild install lets a user reach the bot's DM)."""
    guild = state.guild_of(channel)
    if context == GUILD:
        return str(guild.id) if guild is not None and guild.bot_member else None
    if context == BOT_DM and (install == "guild" or state.shares_guild_with_bot(user.id)):
        return "0"
    return None


def _app_permissions(state: DiscordState, guild: Guild | None, context: int, owners: dict[str, str]) -> int:
    if guild is not None:
        if guild.bot_member:
            return state.member_permissions(guild.id, state.bot_user.id)
        everyone = state.member_permissions(guild.id, 0)  # user id 0: nobody's roles, @everyone only
        return everyone & RESPONSE_PERMISSIONS
    if context == BOT_DM:
        return RESPONSE_PERMISSIONS if "1" in owners else LEGACY_BOT_DM_PERMISSIONS
    return PRIVATE_CHANNEL_PERMISSIONS


def _forced_ephemeral(state: DiscordState, user: User, guild: Guild | None) -> bool:
    if guild is None or guild.bot_member:
        return False
    return not state.member_permissions(guild.id, user.id) & USE_EXTERNAL_APPS


def _finish(state: DiscordState, user: User, channel: Channel, context: int, owners: dict[str, str]) -> Authorization:
    guild = state.guild_of(channel)
    return Authorization(
        context=context,
        owners=owners,
        app_permissions=_app_permissions(state, guild, context, owners),
        forced_ephemeral=_forced_ephemeral(state, user, guild),
    )


def _check_place(state: DiscordState, user: User, channel: Channel) -> None:
    if channel.type == DM and channel.recipient_id != user.id:
        raise InteractionSpecError(f"channel {channel.id} is another user's DM with the bot")
    if channel.type == GROUP_DM and user.id not in channel.recipient_ids:
        raise InteractionSpecError(f"{user.username} is not in group DM {channel.id}")


def authorize_command(
    state: DiscordState, user: User, channel: Channel, command: JsonObj, install: Install
) -> Authorization:
    """The owners of a command run by `user` in `channel` through `install`, or InteractionSpecError
    where Discord's client would not offer the command that way."""
    _check_place(state, user, channel)
    context = interaction_context(state, channel)
    name, installs = command["name"], allowed_installs(command)
    if context not in allowed_contexts(command):
        raise InteractionSpecError(f"command {name!r} is not allowed in context {context} ({command.get('contexts')})")
    owners: dict[str, str] = {}
    guild_owner = _guild_owner(state, user, channel, context, install)
    if guild_owner is not None and GUILD_INSTALL in installs:
        owners["0"] = guild_owner
    if user.id in state.user_installs and USER_INSTALL in installs:
        owners["1"] = str(user.id)
    wanted = "0" if install == "guild" else "1"
    if wanted not in owners:
        raise InteractionSpecError(_refusal(state, user, channel, command, install, context))
    return _finish(state, user, channel, context, owners)


def _refusal(
    state: DiscordState, user: User, channel: Channel, command: JsonObj, install: Install, context: int
) -> str:
    name = command["name"]
    if install == "user":
        if user.id not in state.user_installs:
            return f"{user.username} has not installed the app (call install_for_user first)"
        return f"command {name!r} does not support user installs (integration_types {allowed_installs(command)})"
    if GUILD_INSTALL not in allowed_installs(command):
        return f"command {name!r} is user-install only: pass install='user'"
    if context == PRIVATE_CHANNEL:
        return "no guild install reaches a group DM: pass install='user'"
    return f"the app is not installed in guild {channel.guild_id}: pass install='user'"


def authorize_place(state: DiscordState, user: User, channel: Channel) -> Authorization:
    """A component on a message the bot sent on its own (no interaction): its guild install."""
    _check_place(state, user, channel)
    context = interaction_context(state, channel)
    owner = _guild_owner(state, user, channel, context, "guild")
    if owner is None:
        raise InteractionSpecError(f"the bot cannot have posted in channel {channel.id} without an interaction")
    return _finish(state, user, channel, context, {"0": owner})


def inherit(state: DiscordState, user: User, channel: Channel, source: Interaction) -> Authorization:
    """A component click or modal submit: the context and owners of the interaction it came from;
    app permissions and forced ephemeral answers as for `user` here."""
    context = int(source.payload.get("context", interaction_context(state, channel)))
    return _finish(state, user, channel, context, dict(source.owners))


def followup_refused(ix: Interaction) -> bool:
    """Discord's cap on follow-up messages of an interaction only a user install authorized."""
    return ix.user_install_only and len(ix.followups) >= FOLLOWUP_LIMIT
