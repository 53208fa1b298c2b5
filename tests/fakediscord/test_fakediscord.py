"""Tests of the fake Discord itself, driven by a real discord.py client in the same event loop."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from tests.fakediscord import EPHEMERAL, Channel, FakeDiscord, Guild, Message, User
from tests.fakediscord.validation import validate_body

TOKEN = "test-token"
PNG = b"\x89PNG\r\n\x1a\n" + b"fake image bytes" * 64


@dataclass
class World:
    server: FakeDiscord
    guild: Guild
    general: Channel
    lewd: Channel
    thread: Channel
    alice: User
    mod: User
    bot: commands.Bot
    errors: list[BaseException] = field(default_factory=list)
    seen: dict[str, Any] = field(default_factory=dict)


def build_bot(world_errors: list[BaseException], seen: dict[str, Any], guild_id: int) -> commands.Bot:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
    _add_imagine(bot, seen)
    _add_rule_probes(bot, world_errors)
    _add_panel(bot)
    _add_mod_group(bot, seen, guild_id)
    _add_hooks(bot, world_errors, guild_id)
    return bot


def _add_imagine(bot: commands.Bot, seen: dict[str, Any]) -> None:
    @bot.tree.command(description="Generate an image")
    @app_commands.describe(prompt="tags", steps="sampling steps")
    async def imagine(interaction: discord.Interaction, prompt: str, steps: int = 28) -> None:
        channel = interaction.channel
        # Threads have no `nsfw` attribute in discord.py; is_nsfw() asks the parent channel.
        nsfw = channel.is_nsfw() if isinstance(channel, (discord.TextChannel, discord.Thread)) else None
        seen["imagine"] = (prompt, steps, nsfw)
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"done: {prompt}", file=discord.File(io.BytesIO(PNG), "out.png"))

    @imagine.autocomplete("prompt")
    async def prompt_complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        tags = ["1girl", "1boy", "solo", "smile"]
        return [app_commands.Choice(name=t, value=t) for t in tags if t.startswith(current)]


def _add_rule_probes(bot: commands.Bot, world_errors: list[BaseException]) -> None:
    """Commands that break a platform rule on purpose; the HTTP errors they get are recorded."""

    async def attempt(coro: Any) -> None:
        try:
            await coro
        except discord.HTTPException as exc:
            world_errors.append(exc)

    @bot.tree.command(description="Reply twice")
    async def twice(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("one")
        # InteractionResponse refuses a second reply locally, so go through the adapter directly.
        adapter = discord.webhook.async_.async_context.get()
        await attempt(
            adapter.create_interaction_response(
                interaction.id,
                interaction.token,
                session=interaction._session,
                proxy=None,
                proxy_auth=None,
                params=discord.http.MultipartParameters(
                    payload={"type": 4, "data": {"content": "two"}}, multipart=None, files=None
                ),
            )
        )

    @bot.tree.command(description="Reply (maybe late)")
    async def reply(interaction: discord.Interaction) -> None:
        await attempt(interaction.response.send_message("hi", ephemeral=True))

    @bot.tree.command(description="Upload a big file")
    async def big(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        blob = discord.File(io.BytesIO(b"\0" * (10 * 1024 * 1024 + 1)), "big.png")
        await attempt(interaction.followup.send(file=blob))


def _add_panel(bot: commands.Bot) -> None:
    class Buttons(discord.ui.View):
        @discord.ui.button(label="Again", custom_id="again")
        async def again(self, interaction: discord.Interaction, button: discord.ui.Button[Buttons]) -> None:
            await interaction.response.edit_message(content="clicked", view=None)

    @bot.tree.command(description="Show a button")
    async def panel(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("press it", view=Buttons())


def _add_mod_group(bot: commands.Bot, seen: dict[str, Any], guild_id: int) -> None:
    mod = app_commands.Group(name="mod", description="moderation", guild_ids=[guild_id])
    rating = app_commands.Group(name="rating", description="ratings", parent=mod)

    @rating.command(name="set", description="set the rating")
    async def rating_set(interaction: discord.Interaction, value: int, target: discord.Member) -> None:
        seen["rating"] = (value, target.id, interaction.permissions.manage_guild)
        await interaction.response.send_message(f"rating {value}", ephemeral=True)

    bot.tree.add_command(mod)


def _add_hooks(bot: commands.Bot, world_errors: list[BaseException], guild_id: int) -> None:
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        world_errors.append(error)

    bot.tree.on_error = on_error  # type: ignore[method-assign]

    async def setup_hook() -> None:
        await bot.tree.sync()
        await bot.tree.sync(guild=discord.Object(guild_id))

    bot.setup_hook = setup_hook  # type: ignore[method-assign]


@pytest.fixture
async def world() -> AsyncIterator[World]:
    server = FakeDiscord(token=TOKEN)
    await server.start()
    guild = server.add_guild("Test Guild")
    general = server.add_channel(guild.id, "general", nsfw=False)
    lewd = server.add_channel(guild.id, "lewd", nsfw=True)
    thread = server.add_thread(lewd.id, "a thread")
    alice = server.add_user("alice")
    mod = server.add_user("mod")
    server.add_member(guild.id, alice.id)
    server.add_member(guild.id, mod.id, permissions=1 << 5)

    old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = server.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    errors: list[BaseException] = []
    seen: dict[str, Any] = {}
    bot = build_bot(errors, seen, guild.id)
    task = asyncio.create_task(bot.start(TOKEN))
    try:
        await server.wait_until_ready(timeout=10)
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        yield World(server, guild, general, lewd, thread, alice, mod, bot, errors, seen)
    finally:
        await bot.close()
        await asyncio.wait_for(task, 5)
        await server.stop()
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway
    assert server.unhandled == [], server.unhandled


async def test_login_ready_and_nsfw_flags(world: World) -> None:
    guild = world.bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Test Guild"
    general, lewd = guild.get_channel(world.general.id), guild.get_channel(world.lewd.id)
    assert isinstance(general, discord.TextChannel) and not general.nsfw
    assert isinstance(lewd, discord.TextChannel) and lewd.nsfw
    thread = guild.get_thread(world.thread.id)
    assert thread is not None and thread.parent_id == world.lewd.id
    assert world.bot.user is not None and world.bot.user.id == world.server.bot_user_id
    assert world.bot.application_id == world.server.application_id


async def test_command_sync(world: World) -> None:
    names = {c["name"] for c in world.server.commands()}
    assert {"imagine", "twice", "reply", "big", "panel"} <= names
    assert all(c["id"] and c["application_id"] == str(world.server.application_id) for c in world.server.commands())
    guild_cmds = world.server.commands(world.guild.id)
    assert [c["name"] for c in guild_cmds] == ["mod"]
    assert world.server.validation_errors == []


async def test_defer_then_file_followup(world: World) -> None:
    ix = await world.server.invoke(world.alice, world.lewd, "imagine", {"prompt": "1girl", "steps": 4})
    first = await ix.wait_response()
    assert first.type == 5 and first.received_after < 3
    await ix.wait_for(lambda i: i.original is not None and not i.original.loading)
    assert world.seen["imagine"] == ("1girl", 4, True)
    assert ix.original is not None
    assert ix.original.content == "done: 1girl"
    [att] = ix.original.attachments
    assert att.filename == "out.png" and att.data == PNG and att.content_type == "image/png"
    assert ix.followups == []  # the first follow-up after a defer fills in the "thinking" message
    assert world.server.validation_errors == [] and world.errors == []

    # The token dies after 15 minutes: later edits are refused.
    world.server.time_offset = 16 * 60
    url = f"{world.server.api_base_url}/webhooks/{world.server.application_id}/{ix.token}/messages/@original"
    async with aiohttp.ClientSession() as session, session.patch(url, json={"content": "late"}) as resp:
        assert resp.status == 401 and (await resp.json())["code"] == 50027


async def test_command_in_thread_and_nested_subcommand(world: World) -> None:
    ix = await world.server.invoke(world.alice, world.thread, "imagine", {"prompt": "solo"})
    await ix.wait_for(lambda i: i.original is not None and i.original.attachments)
    assert world.seen["imagine"] == ("solo", 28, True)  # thread inherits the parent's nsfw flag

    ix = await world.server.invoke(world.mod, world.general, "mod rating set", {"value": 3, "target": world.alice})
    await ix.wait_response()
    assert world.seen["rating"] == (3, world.alice.id, True)
    assert ix.original is not None and ix.original.ephemeral and ix.original.flags & EPHEMERAL


async def test_late_callback_is_unknown_interaction(world: World) -> None:
    world.server.time_offset = 5.0
    ix = await world.server.invoke(world.alice, world.general, "reply")
    await ix.wait_for(lambda i: i.rejected)
    assert ix.responses == []
    [err] = world.errors
    assert isinstance(err, discord.NotFound) and err.code == 10062


async def test_double_callback(world: World) -> None:
    ix = await world.server.invoke(world.alice, world.general, "twice")
    await ix.wait_for(lambda i: i.rejected)
    assert [r.type for r in ix.responses] == [4]
    assert [e.code for e in world.errors if isinstance(e, discord.HTTPException)] == [40060]


async def test_oversize_file(world: World) -> None:
    ix = await world.server.invoke(world.alice, world.general, "big")
    await ix.wait_response()
    await world.server.wait_for(lambda: world.errors)
    [err] = world.errors
    assert isinstance(err, discord.HTTPException) and err.status == 413 and err.code == 40005


async def test_autocomplete(world: World) -> None:
    ix = await world.server.autocomplete(world.alice, world.general, "imagine", {"prompt": "1"}, focused="prompt")
    await ix.wait_for(lambda i: i.choices is not None)
    assert ix.choices == [{"name": "1girl", "value": "1girl"}, {"name": "1boy", "value": "1boy"}]
    assert ix.responses[0].type == 8


async def test_button_click_updates_message(world: World) -> None:
    ix = await world.server.invoke(world.alice, world.general, "panel")
    await ix.wait_for(lambda i: i.original is not None)
    message: Message = ix.original  # type: ignore[assignment]
    assert message.components[0]["components"][0]["custom_id"] == "again"
    click = await world.server.click(world.alice, message, "again")
    await click.wait_for(lambda i: i.responses)
    assert click.responses[0].type == 7
    assert message.content == "clicked" and message.components == [] and message.edits
    assert message in world.server.channel_messages(world.general.id)


async def test_channel_messages_and_limits(world: World) -> None:
    channel = world.bot.get_channel(world.general.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("hello", file=discord.File(io.BytesIO(PNG), "a.png"))
    stored = await world.server.wait_for_message(lambda m: m.id == sent.id)
    assert stored.attachments[0].data == PNG and stored.author_id == world.server.bot_user_id
    assert await sent.attachments[0].read() == PNG  # served by the fake CDN route

    await sent.edit(content="edited")
    assert stored.content == "edited" and len(stored.edits) == 1
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035
    embed = discord.Embed(title="t" * 257)
    with pytest.raises(discord.HTTPException):
        await channel.send(embed=embed)
    assert len(world.server.limit_errors) == 2
    with pytest.raises(discord.HTTPException) as empty:
        await world.bot.http.request(
            discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=world.general.id), json={}
        )
    assert empty.value.code == 50006
    await sent.delete()
    assert stored.deleted
    with pytest.raises(discord.NotFound) as unknown:
        await world.bot.http.get_message(world.general.id, sent.id)
    assert unknown.value.code == 10008
    with pytest.raises(discord.NotFound) as no_channel:
        await world.bot.http.send_message(123, params=discord.http.MultipartParameters({"content": "x"}, None, None))
    assert no_channel.value.code == 10003
    assert world.server.validation_errors == []


async def test_invalid_body_is_caught(world: World) -> None:
    route = discord.http.Route("POST", "/channels/{channel_id}/messages", channel_id=world.general.id)
    with pytest.raises(discord.HTTPException) as bad:
        await world.bot.http.request(route, json={"content": 5, "tts": "yes"})
    assert bad.value.status == 400 and bad.value.code == 50035
    assert len(world.server.validation_errors) == 1 and "content" in world.server.validation_errors[0]
    world.server.validation_errors.clear()


async def test_dm_invoke_and_reconnect(world: World) -> None:
    ix = await world.server.dm_invoke(world.alice, "imagine", {"prompt": "smile"})
    await ix.wait_for(lambda i: i.original is not None and i.original.attachments)
    assert ix.payload["user"]["id"] == str(world.alice.id) and "member" not in ix.payload

    # A second bot process against the same server: a fresh IDENTIFY gets READY again.
    await world.bot.close()
    bot2 = build_bot([], {}, world.guild.id)
    task = asyncio.create_task(bot2.start(TOKEN))
    try:
        await world.server.wait_until_ready(timeout=10, sessions=2)
        await world.server.dispatch("GUILD_UPDATE", {"id": str(world.guild.id), "name": "Renamed"})
        await world.server.wait_for(lambda: (g := bot2.get_guild(world.guild.id)) and g.name == "Renamed")
    finally:
        await bot2.close()
        await asyncio.wait_for(task, 5)


async def test_wrong_token_is_rejected() -> None:
    async with FakeDiscord(token=TOKEN) as server, aiohttp.ClientSession() as session:
        async with session.ws_connect(server.gateway_url + "?v=10&encoding=json") as ws:
            hello = await ws.receive_json()
            assert hello["op"] == 10
            await ws.send_json({"op": 2, "d": {"token": "nope", "properties": {}, "intents": 0}})
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4004
        async with session.get(f"{server.api_base_url}/nope") as resp:
            assert resp.status == 404 and resp.headers["Content-Type"] == "application/json"
        assert server.unhandled == ["GET /api/v10/nope"]


def test_validation_lenient_on_integer_ids() -> None:
    body = {"content": "x", "attachments": [{"id": 0, "filename": "a.png"}]}
    assert validate_body("/channels/{channel_id}/messages", "post", body) == []
    assert validate_body("/channels/{channel_id}/messages", "post", {"content": 1}) != []


class _ShardedBot(commands.AutoShardedBot):
    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py waits 5 s between IDENTIFYs (Discord's rate limit); not needed here


async def test_sharded_bot_gets_each_guild_on_its_own_shard() -> None:
    async with FakeDiscord(token=TOKEN, recommended_shards=2) as server:
        guilds = [server.add_guild(f"guild {n}", shard=(n, 2)) for n in range(2)]
        channels = [server.add_channel(g.id, "general") for g in guilds]
        alice = server.add_user("alice")
        for g in guilds:
            server.add_member(g.id, alice.id)
        bot = _ShardedBot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
        handled: list[tuple[int | None, int | None]] = []

        @bot.tree.command(description="Which shard am I on")
        async def where(interaction: discord.Interaction) -> None:
            handled.append((interaction.guild_id, interaction.guild.shard_id if interaction.guild else None))
            await interaction.response.send_message("here", ephemeral=True)

        old_base, old_gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        discord.http.Route.BASE = server.api_base_url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
        task = asyncio.create_task(bot.start(TOKEN))
        try:
            await server.wait_until_ready(timeout=10, sessions=2)
            await asyncio.wait_for(bot.wait_until_ready(), 5)
            assert bot.shard_count == 2  # the count GET /gateway/bot recommends
            identified = sorted(d["shard"] for op, d in server.gateway.received if op == 2)
            assert identified == [[0, 2], [1, 2]]
            assert {g.id: g.shard_id for g in bot.guilds} == {guilds[0].id: 0, guilds[1].id: 1}

            # Each guild's interaction reaches its own shard only, and is answered once.
            for channel in channels:
                ix = await server.invoke(alice, channel, "where")
                await ix.wait_response()
            await server.wait_for(lambda: len(handled) == 2)
            assert handled == [(guilds[0].id, 0), (guilds[1].id, 1)]

            # A guild joined later arrives on the shard that owns it.
            late = server.add_guild("late", shard=(1, 2))
            await server.join_guild(late)
            await server.wait_for(lambda: bot.get_guild(late.id) is not None)
            assert bot.get_guild(late.id).shard_id == 1  # type: ignore[union-attr]
        finally:
            await bot.close()
            await asyncio.wait_for(task, 5)
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway
        assert server.unhandled == [] and server.validation_errors == []


async def test_invalid_shard_is_rejected() -> None:
    async with (
        FakeDiscord(token=TOKEN) as server,
        aiohttp.ClientSession() as session,
        session.ws_connect(server.gateway_url + "?v=10&encoding=json") as ws,
    ):
        await ws.receive_json()  # HELLO
        await ws.send_json({"op": 2, "d": {"token": TOKEN, "properties": {}, "intents": 0, "shard": [2, 2]}})
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4010
