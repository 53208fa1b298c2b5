"""User-installed apps against the fake Discord: where commands may run, what the payloads say, and
the rules Discord applies (5 follow-ups, forced ephemeral answers, no REST where the bot is absent)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import (
    DEFAULT_EVERYONE_PERMISSIONS,
    USE_EXTERNAL_APPS,
    Channel,
    FakeDiscord,
    Guild,
    Interaction,
    InteractionSpecError,
    Message,
    User,
)
from tests.fakediscord.installs import Install

TOKEN = "test-token"
RESPONSE_PERMISSIONS = 442368  # ATTACH_FILES | EMBED_LINKS | MENTION_EVERYONE | USE_EXTERNAL_EMOJIS
PRIVATE_CHANNEL_PERMISSIONS = 180224  # the same without USE_EXTERNAL_EMOJIS


@dataclass
class World:
    server: FakeDiscord
    home: Guild  # the bot is a member
    home_chan: Channel
    away: Guild  # the app is not installed here
    away_lewd: Channel
    strict: Guild  # not installed, and @everyone lacks Use External Apps
    strict_chan: Channel
    alice: User  # user-installed the app; member of all three guilds
    bob: User  # plain member of `away`
    loner: User  # user-installed the app, shares no guild with the bot
    bot: commands.Bot
    seen: dict[str, Any] = field(default_factory=dict)
    errors: list[int] = field(default_factory=list)  # Discord error codes the bot got


class Again(discord.ui.View):
    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(timeout=None)
        self.seen = seen

    @discord.ui.button(label="Again", custom_id="uix:again")
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button[Again]) -> None:
        self.seen["click"] = describe(interaction)
        await interaction.response.send_modal(Note(self.seen))


class Note(discord.ui.Modal, title="Note"):
    text: discord.ui.TextInput[Note] = discord.ui.TextInput(label="Text", custom_id="text")

    def __init__(self, seen: dict[str, Any]) -> None:
        super().__init__(custom_id="uix:note")
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen["submit"] = describe(interaction)
        await interaction.response.send_message(f"noted: {self.text.value}")


def describe(interaction: discord.Interaction) -> dict[str, Any]:
    channel = interaction.channel
    return {
        "context": (interaction.context.guild, interaction.context.dm_channel, interaction.context.private_channel),
        "user_integration": interaction.is_user_integration(),
        "guild_integration": interaction.is_guild_integration(),
        "app_permissions": interaction.app_permissions.value,
        "guild_id": interaction.guild_id,
        "channel": type(channel).__name__,
        "nsfw": channel.is_nsfw() if isinstance(channel, discord.TextChannel) else None,
        "user": (type(interaction.user).__name__, interaction.user.id),
        "owners": dict(interaction._integration_owners),
    }


EVERYWHERE = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)
BOTH = app_commands.allowed_installs(guilds=True, users=True)


def build_bot(seen: dict[str, Any], errors: list[int]) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    everywhere, both = EVERYWHERE, BOTH

    async def attempt(coro: Any) -> Any:
        try:
            return await coro
        except discord.HTTPException as exc:
            errors.append(exc.code)
            return None

    @bot.tree.command(description="Who asks, from where")
    @everywhere
    @both
    async def whoami(interaction: discord.Interaction, followups: int = 0) -> None:
        seen["whoami"] = describe(interaction)
        await interaction.response.send_message("you", view=Again(seen))
        for n in range(followups):
            await attempt(interaction.followup.send(f"more {n}"))

    @bot.tree.command(description="Guild installs only (the default)")
    async def guildonly(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok")

    @bot.tree.command(description="User installs only")
    @everywhere
    @app_commands.user_install()
    async def useronly(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok")

    @bot.tree.command(description="DMs with the bot only")
    @app_commands.dm_only()
    @both
    async def dmonly(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok")

    _add_late(bot, seen, attempt)

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        seen.setdefault("on_message", []).append(message.content)

    async def setup_hook() -> None:
        await bot.tree.sync()

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


def _add_late(bot: commands.Bot, seen: dict[str, Any], attempt: Callable[[Any], Awaitable[Any]]) -> None:
    """Defers, waits for the test, then delivers: follow-up, else the channel, else the user's DM."""

    @bot.tree.command(description="A result delivered after the token died")
    @EVERYWHERE
    @BOTH
    async def late(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await seen.setdefault("late", asyncio.Event()).wait()
        if await attempt(interaction.followup.send("result")) is not None:
            return
        channel = interaction.channel
        if isinstance(channel, discord.abc.Messageable) and await attempt(channel.send("result")) is not None:
            return
        await attempt(interaction.user.send("result, by DM"))


@pytest.fixture
async def world() -> AsyncIterator[World]:
    server = FakeDiscord(token=TOKEN)
    await server.start()
    alice, bob, loner = server.add_user("alice"), server.add_user("bob"), server.add_user("loner")
    home = server.add_guild("Home")
    home_chan = server.add_channel(home.id, "general")
    away = server.add_guild("Away", bot_member=False)
    away_lewd = server.add_channel(away.id, "lewd", nsfw=True)
    strict = server.add_guild(
        "Strict", bot_member=False, everyone_permissions=DEFAULT_EVERYONE_PERMISSIONS & ~USE_EXTERNAL_APPS
    )
    strict_chan = server.add_channel(strict.id, "general")
    for guild in (home, away, strict):
        server.add_member(guild.id, alice.id)
    server.add_member(away.id, bob.id)
    server.install_for_user(alice)
    server.install_for_user(loner)

    old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = server.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    seen: dict[str, Any] = {}
    errors: list[int] = []
    bot = build_bot(seen, errors)
    task = asyncio.create_task(bot.start(TOKEN))
    try:
        await server.wait_until_ready(timeout=10)
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        yield World(server, home, home_chan, away, away_lewd, strict, strict_chan, alice, bob, loner, bot, seen, errors)
    finally:
        await bot.close()
        await asyncio.wait_for(task, 5)
        await server.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway
    assert server.unhandled == [] and server.validation_errors == [], (server.unhandled, server.validation_errors)


async def answered(ix: Interaction) -> Message:
    await ix.wait_for(lambda i: i.original is not None and not i.original.loading)
    assert ix.original is not None
    return ix.original


def text(content: str) -> discord.http.MultipartParameters:
    return discord.http.MultipartParameters({"content": content}, None, None)


def command(server: FakeDiscord, name: str) -> dict[str, Any]:
    return next(c for c in server.commands() if c["name"] == name)


async def test_registration_keeps_installs_and_contexts_and_refuses_what_discord_would_not_offer(
    world: World,
) -> None:
    server, alice = world.server, world.alice
    whoami, guildonly = command(server, "whoami"), command(server, "guildonly")
    assert (whoami["integration_types"], whoami["contexts"]) == ([0, 1], [0, 1, 2])
    assert (guildonly["integration_types"], guildonly["contexts"]) == ([0], None)  # Discord's defaults
    assert command(server, "useronly")["integration_types"] == [1]
    assert command(server, "dmonly")["contexts"] == [1]

    gdm = server.add_group_dm([alice, world.bob])
    refused = [
        lambda: server.invoke(alice, world.away_lewd, "guildonly", install="user"),  # no user install of it
        lambda: server.invoke(alice, world.home_chan, "guildonly", install="user"),
        lambda: server.invoke(alice, world.home_chan, "useronly"),  # no guild install of it
        lambda: server.invoke(alice, world.home_chan, "dmonly"),  # context 0 not allowed
        lambda: server.invoke(alice, gdm, "dmonly", install="user"),  # context 2 not allowed
        lambda: server.invoke(alice, world.away_lewd, "whoami"),  # the app is not in that guild
        lambda: server.invoke(alice, gdm, "whoami"),  # no guild install reaches a group DM
        lambda: server.invoke(world.bob, world.away_lewd, "whoami", install="user"),  # bob never installed it
        lambda: server.invoke(server.add_user("eve"), gdm, "whoami", install="user"),  # not in the group
    ]
    for attempt in refused:
        with pytest.raises(InteractionSpecError):
            await attempt()
    assert server.interactions == []
    ok = await server.dm_invoke(alice, "dmonly", install="user")
    assert (await answered(ok)).content == "ok"


async def test_bot_dm_through_a_user_install(world: World) -> None:
    server = world.server
    ix = await server.dm_invoke(world.loner, "whoami", install="user")
    await answered(ix)
    p = ix.payload
    assert (p["context"], p["authorizing_integration_owners"], p["app_permissions"]) == (
        1,
        {"1": str(world.loner.id)},
        str(RESPONSE_PERMISSIONS),
    )
    assert p["user"]["id"] == str(world.loner.id) and "member" not in p and "guild_id" not in p
    assert p["channel"]["type"] == 1 and p["channel"]["recipients"][0]["id"] == str(world.loner.id)
    seen = world.seen["whoami"]
    assert seen["context"] == (False, True, False) and seen["user_integration"] and not seen["guild_integration"]
    assert seen["channel"] == "DMChannel" and seen["user"] == ("User", world.loner.id)

    # Alice shares a guild with the bot: its guild install covers her bot DM too ("0": "0").
    ix = await server.dm_invoke(world.alice, "whoami", install="user")
    await answered(ix)
    assert ix.payload["authorizing_integration_owners"] == {"0": "0", "1": str(world.alice.id)}
    # Through the guild install alone the payload is as it always was.
    ix = await server.dm_invoke(world.bob, "whoami")
    assert ix.payload["authorizing_integration_owners"] == {"0": "0"} and ix.payload["context"] == 1


async def test_guild_without_the_bot_through_a_user_install(world: World) -> None:
    server, away = world.server, world.away
    assert world.bot.get_guild(away.id) is None and world.bot.get_guild(world.home.id) is not None
    ix = await server.invoke(world.alice, world.away_lewd, "whoami", install="user")
    message = await answered(ix)
    p = ix.payload
    assert (p["context"], p["authorizing_integration_owners"]) == (0, {"1": str(world.alice.id)})
    assert p["guild_id"] == str(away.id) and p["guild"] == {"id": str(away.id), "locale": "en-US", "features": []}
    assert p["guild_locale"] == "en-US" and p["channel"]["nsfw"] is True and p["channel"]["guild_id"] == str(away.id)
    assert p["member"]["user"]["id"] == str(world.alice.id) and int(p["member"]["permissions"]) & USE_EXTERNAL_APPS
    assert p["app_permissions"] == str(DEFAULT_EVERYONE_PERMISSIONS & RESPONSE_PERMISSIONS)
    seen = world.seen["whoami"]
    assert seen["context"] == (True, False, False) and seen["guild_id"] == away.id and seen["nsfw"] is True
    assert seen["user_integration"] and not seen["guild_integration"] and seen["user"] == ("Member", world.alice.id)
    assert not message.ephemeral and message.content == "you"
    assert message.interaction_id == ix.id

    # In the bot's guild, with Alice's own install too: both owners; guild install alone: "0" only.
    ix = await server.invoke(world.alice, world.home_chan, "whoami", install="user")
    await answered(ix)
    owners = {"0": str(world.home.id), "1": str(world.alice.id)}
    assert ix.payload["authorizing_integration_owners"] == owners
    assert world.seen["whoami"]["guild_integration"] and world.seen["whoami"]["user_integration"]
    ix = await server.invoke(world.bob, world.home_chan, "whoami")
    assert ix.payload["authorizing_integration_owners"] == {"0": str(world.home.id)}


async def test_group_dm_through_a_user_install(world: World) -> None:
    server = world.server
    gdm = server.add_group_dm([world.alice, world.bob], name="pals")
    ix = await server.invoke(world.alice, gdm, "whoami", install="user")
    await answered(ix)
    p = ix.payload
    assert (p["context"], p["authorizing_integration_owners"], p["app_permissions"]) == (
        2,
        {"1": str(world.alice.id)},
        str(PRIVATE_CHANNEL_PERMISSIONS),
    )
    assert p["channel"]["type"] == 3 and {u["id"] for u in p["channel"]["recipients"]} == {
        str(world.alice.id),
        str(world.bob.id),
    }
    assert p["user"]["id"] == str(world.alice.id) and "guild_id" not in p and "guild_locale" not in p
    seen = world.seen["whoami"]
    assert seen["context"] == (False, False, True) and seen["channel"] == "GroupChannel"


async def test_rest_to_places_the_bot_is_not_in_is_missing_access(world: World) -> None:
    server, http = world.server, world.bot.http
    gdm = server.add_group_dm([world.alice, world.bob])
    for channel in (world.away_lewd, gdm):
        for call in (
            lambda c=channel: http.send_message(c.id, params=text("x")),
            lambda c=channel: http.get_channel(c.id),
            lambda c=channel: http.logs_from(c.id, 10),
        ):
            with pytest.raises(discord.Forbidden) as denied:
                await call()
            assert denied.value.status == 403 and denied.value.code == 50001
    for guild_call in (
        lambda: http.get_guild(world.away.id),
        lambda: http.bulk_upsert_guild_commands(server.application_id, world.away.id, []),
    ):
        with pytest.raises(discord.Forbidden) as denied:
            await guild_call()
        assert denied.value.code == 50001
    # DMs with a user still work; members' messages where the bot is absent never reach it.
    dm = await http.start_private_message(world.alice.id)
    sent = await http.send_message(int(dm["id"]), params=text("hi"))
    assert server.channel_messages(int(dm["id"]))[0].id == int(sent["id"])
    await server.post_message(world.alice, world.away_lewd, f"<@{server.bot_user_id}> psst")
    await server.post_message(world.alice, gdm, "psst")
    await server.post_message(world.alice, world.home_chan, f"<@{server.bot_user_id}> hello")
    await server.wait_for(lambda: world.seen.get("on_message"))
    await asyncio.sleep(0.1)
    assert world.seen["on_message"] == [f"<@{server.bot_user_id}> hello"]

    # Once the bot joins that guild, it gets GUILD_CREATE, REST works and the guild install counts.
    await server.join_guild(world.away)
    await server.wait_for(lambda: world.bot.get_guild(world.away.id) is not None)
    await http.send_message(world.away_lewd.id, params=text("hi"))
    ix = await server.invoke(world.bob, world.away_lewd, "whoami")
    assert ix.payload["authorizing_integration_owners"] == {"0": str(world.away.id)}


async def test_follow_ups_capped_at_five_for_user_install_only(world: World) -> None:
    server = world.server
    ix = await server.invoke(world.alice, world.away_lewd, "whoami", {"followups": 7}, install="user")
    await server.wait_for(lambda: len(world.errors) == 2)
    assert world.errors == [40094, 40094] and len(ix.followups) == 5
    assert ix.rejected == ["follow-up 6 of a user-install-only interaction -> 40094"] * 2
    # With the guild install among the owners there is no cap.
    world.errors.clear()
    ix = await server.invoke(world.alice, world.home_chan, "whoami", {"followups": 7}, install="user")
    await server.wait_for(lambda: len(ix.followups) == 7)
    assert world.errors == []


async def test_forced_ephemeral_without_use_external_apps(world: World) -> None:
    server = world.server
    ix = await server.invoke(world.alice, world.strict_chan, "whoami", {"followups": 2}, install="user")
    await server.wait_for(lambda: len(ix.followups) == 2)
    assert ix.original is not None and ix.original.ephemeral
    assert all(m.ephemeral for m in ix.followups) and ix.forced_ephemeral
    assert not int(ix.payload["member"]["permissions"]) & USE_EXTERNAL_APPS
    assert int(ix.payload["app_permissions"]) == DEFAULT_EVERYONE_PERMISSIONS & RESPONSE_PERMISSIONS
    # A member granted the permission gets public answers.
    carol = server.add_user("carol")
    server.add_member(world.strict.id, carol.id, permissions=USE_EXTERNAL_APPS)
    server.install_for_user(carol)
    ix = await server.invoke(carol, world.strict_chan, "whoami", install="user")
    assert not (await answered(ix)).ephemeral and not ix.forced_ephemeral


async def test_click_and_modal_carry_the_owners_of_the_command(world: World) -> None:
    server = world.server
    ix = await server.invoke(world.alice, world.away_lewd, "whoami", install="user")
    message = await answered(ix)
    click = await server.click(world.bob, message, "uix:again")  # bob never installed the app
    await click.wait_for(lambda i: i.modal is not None)
    owners = {"1": str(world.alice.id)}
    assert (click.payload["authorizing_integration_owners"], click.payload["context"]) == (owners, 0)
    assert click.payload["member"]["user"]["id"] == str(world.bob.id)
    assert click.payload["message"]["interaction_metadata"]["authorizing_integration_owners"] == owners
    seen = world.seen["click"]
    assert (
        seen["user"] == ("Member", world.bob.id)
        and not seen["user_integration"]
        and seen["owners"] == {1: world.alice.id}
    )
    sub = await server.submit_modal(world.bob, click, {"text": "hello"})
    reply = await answered(sub)
    assert sub.payload["authorizing_integration_owners"] == owners and sub.payload["context"] == 0
    assert reply.content == "noted: hello" and world.seen["submit"]["owners"] == {1: world.alice.id}


async def late_delivery(world: World, channel: Channel, install: Install) -> tuple[Message, list[int]]:
    """Run /late, expire its token once it deferred, let it deliver: the message and the errors."""
    server = world.server
    known = set(server.state.messages)
    world.seen["late"] = asyncio.Event()
    world.errors.clear()
    ix = await server.invoke(world.alice, channel, "late", install=install)
    await ix.wait_response()
    server.expire_token(ix)
    world.seen["late"].set()
    delivered = await server.wait_for_message(lambda m: m.id not in known and m.content.startswith("result"))
    assert ix.rejected and "50027" in ix.rejected[0]
    return delivered, list(world.errors)


async def test_late_result_after_the_token_expired(world: World) -> None:
    server = world.server
    dm = server.state.dm_channel(world.alice.id)
    # The bot's own guild: the channel takes the result.
    message, errors = await late_delivery(world, world.home_chan, "guild")
    assert (message.channel_id, errors) == (world.home_chan.id, [50027])
    # A guild without the bot, a group DM: no channel message (403 50001); the user's DM still works.
    for channel in (world.away_lewd, server.add_group_dm([world.alice, world.bob])):
        message, errors = await late_delivery(world, channel, "user")
        assert (message.channel_id, message.content, errors) == (dm.id, "result, by DM", [50027, 50001])
    # Other interactions keep fresh tokens.
    ix = await server.invoke(world.alice, world.home_chan, "whoami")
    await answered(ix)
