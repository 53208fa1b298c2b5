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
from PIL import Image

from tests.fakediscord import EPHEMERAL, Attachment, Channel, FakeDiscord, Guild, InteractionSpecError, Message, User
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
    _add_image_tools(bot, seen, guild_id)
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

        @discord.ui.button(label="Tweak", custom_id="tweak")
        async def tweak(self, interaction: discord.Interaction, button: discord.ui.Button[Buttons]) -> None:
            await interaction.response.send_modal(EditModal("from a button", {}))

    @bot.tree.command(description="Show a button")
    async def panel(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("press it", view=Buttons())


class EditModal(discord.ui.Modal, title="Edit prompt"):
    """Prefilled text inputs in action rows (styles 2 and 1) and one inside a Label."""

    def __init__(self, prompt: str, seen: dict[str, Any]) -> None:
        super().__init__(custom_id="edit-modal")
        self.seen = seen
        style = discord.TextStyle.paragraph
        self.prompt: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label="Prompt", default=prompt, style=style, min_length=1, max_length=500
        )
        self.negative: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            label="Negative", custom_id="negative", required=False, max_length=100
        )
        self.seed: discord.ui.TextInput[EditModal] = discord.ui.TextInput(custom_id="seed", default="42", max_length=10)
        self.add_item(self.prompt).add_item(self.negative).add_item(discord.ui.Label(text="Seed", component=self.seed))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        source = interaction.message.id if interaction.message else None
        self.seen["modal"] = (self.prompt.value, self.negative.value, self.seed.value, source)
        if interaction.message is not None:  # shown from a button: update that message
            await interaction.response.edit_message(content=f"edited: {self.prompt.value}", view=None)
        else:
            await interaction.response.send_message(f"edited: {self.prompt.value}", ephemeral=True)


def _add_image_tools(bot: commands.Bot, seen: dict[str, Any], guild_id: int) -> None:
    """An attachment option, message context menus (global and per guild) and a modal command."""

    async def fetch(att: discord.Attachment) -> str:
        seen.setdefault("fetched", []).append((att.filename, att.content_type, att.size, att.width, att.height))
        try:
            data = await asyncio.wait_for(att.read(), 0.3)
        except TimeoutError:
            return "timeout"
        except discord.HTTPException as exc:
            return f"cdn {exc.status}"
        return f"{len(data)} bytes"

    @bot.tree.command(description="Upscale an image")
    async def upscale(interaction: discord.Interaction, image: discord.Attachment) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(await fetch(image))

    @bot.tree.context_menu(name="Describe image")
    async def describe(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(await fetch(message.attachments[0]) if message.attachments else "no image")

    @bot.tree.context_menu(name="Edit prompt")
    async def edit_prompt(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_modal(EditModal(message.content, seen))

    @app_commands.context_menu(name="Report image")
    async def report(interaction: discord.Interaction, message: discord.Message) -> None:
        seen["report"] = (message.id, message.author.id)
        await interaction.response.send_message("reported", ephemeral=True)

    bot.tree.add_command(report, guild=discord.Object(guild_id))

    @bot.tree.command(description="Edit a prompt in a form")
    async def edit(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(EditModal("1girl", seen))

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        seen.setdefault("on_message", []).append((message.author.id, message.content, len(message.attachments)))


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
    assert [(c["name"], c["type"]) for c in guild_cmds] == [("mod", 1), ("Report image", 3)]
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


def real_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


async def test_member_message_and_message_context_menus(world: World) -> None:
    server, png = world.server, real_png(64, 32)
    posted = await server.post_message(
        world.alice, world.general, "a cat", attachments=[Attachment("cat.png", "image/png", png)]
    )
    [att] = posted.attachments
    assert posted.author_id == world.alice.id and att.id and posted in server.channel_messages(world.general.id)
    # Default intents: MESSAGE_CREATE arrives, but without MESSAGE_CONTENT its content is hidden...
    await server.wait_for(lambda: world.seen.get("on_message"))
    assert world.seen["on_message"] == [(world.alice.id, "", 0)]
    # ...except when the message mentions the bot.
    await server.post_message(world.alice, world.general, f"<@{server.bot_user_id}> hi")
    await server.wait_for(lambda: len(world.seen["on_message"]) == 2)
    assert world.seen["on_message"][1] == (world.alice.id, f"<@{server.bot_user_id}> hi", 0)

    ix = await server.context_menu(world.alice, posted, "Describe image")
    data = ix.payload["data"]
    assert data["type"] == 3 and data["target_id"] == str(posted.id) and "guild_id" not in data
    resolved = data["resolved"]["messages"][str(posted.id)]
    assert resolved["author"]["id"] == str(world.alice.id) and resolved["content"] == "a cat"
    url = f"{server.base_url}/attachments/{world.general.id}/{att.id}/cat.png"
    assert resolved["attachments"][0]["url"] == url and resolved["attachments"][0]["width"] == 64
    await ix.wait_for(lambda i: i.original is not None and not i.original.loading)
    assert ix.original is not None and ix.original.content == f"{len(png)} bytes"
    assert world.seen["fetched"] == [("cat.png", "image/png", len(png), 64, 32)] and att.downloads == 1

    # A message command registered per guild carries the guild's id.
    ix = await server.context_menu(world.mod, posted, "Report image")
    await ix.wait_response()
    assert ix.payload["data"]["guild_id"] == str(world.guild.id)
    assert world.seen["report"] == (posted.id, world.alice.id)
    for name in ("imagine", "nope"):  # a slash command is no message command
        with pytest.raises(InteractionSpecError):
            await server.context_menu(world.alice, posted, name)
    with pytest.raises(InteractionSpecError):
        await server.post_message(world.alice, world.general, " ")
    assert server.validation_errors == [] and world.errors == []


async def test_attachment_option_and_misbehaving_cdn(world: World) -> None:
    async def upscale(att: Attachment) -> str:
        ix = await world.server.invoke(world.alice, world.general, "upscale", {"image": att})
        await ix.wait_for(lambda i: i.original is not None and not i.original.loading, timeout=5)
        return ix.original.content  # type: ignore[union-attr]

    webp = Attachment("in.webp", "image/webp", b"RIFF0000WEBP" + b"x" * 100)
    assert await upscale(webp) == "112 bytes" and webp.downloads == 1
    # The declared size is what Discord reports; the bytes served stay the same.
    assert await upscale(Attachment("big.png", "image/png", PNG, declared_size=50 * 1024 * 1024)) == f"{len(PNG)} bytes"
    assert world.seen["fetched"][:2] == [
        ("in.webp", "image/webp", 112, None, None),
        ("big.png", "image/png", 50 << 20, None, None),
    ]
    assert await upscale(Attachment("gone.png", "image/png", PNG, cdn_status=404)) == "cdn 404"
    assert await upscale(Attachment("err.png", "image/png", PNG, cdn_status=500)) == "cdn 500"
    slow = Attachment("slow.png", "image/png", PNG, cdn_delay=1.0)
    assert await upscale(slow) == "timeout" and slow.downloads == 1
    assert world.server.validation_errors == [] and world.errors == []


async def test_prefilled_modal_and_submit(world: World) -> None:
    server = world.server
    ix = await server.invoke(world.alice, world.general, "edit")
    await ix.wait_for(lambda i: i.modal is not None)
    assert server.validation_errors == []
    route = "/interactions/{interaction_id}/{interaction_token}/callback"
    assert validate_body(route, "post", {"type": 9, "data": ix.modal}) == []
    row1, row2, label = ix.modal["components"]  # type: ignore[index]
    prompt = row1["components"][0]
    assert (prompt["style"], prompt["value"], prompt["required"], prompt["min_length"], prompt["max_length"]) == (
        2,
        "1girl",
        True,
        1,
        500,
    )
    assert row2["components"][0]["style"] == 1 and label["type"] == 18 and label["component"]["value"] == "42"

    for bad in ({"Prompt": ""}, {"Prompt": "x" * 501}, {"seed": "1" * 11}, {"nope": "x"}):
        with pytest.raises(InteractionSpecError):
            await server.submit_modal(world.alice, ix, bad)
    # By label or custom_id; the seed stays as prefilled. Rows and the label come back as shown.
    sub = await server.submit_modal(world.alice, ix, {"Prompt": "2girls", "negative": "lowres"})
    await sub.wait_response()
    assert world.seen["modal"] == ("2girls", "lowres", "42", None) and "message" not in sub.payload
    assert [c["type"] for c in sub.payload["data"]["components"]] == [1, 1, 18]

    # From a message context menu: no source message either.
    posted = await server.post_message(world.alice, world.general, "a fox")
    shown = await server.context_menu(world.alice, posted, "Edit prompt")
    await shown.wait_for(lambda i: i.modal is not None)
    sub = await server.submit_modal(world.alice, shown, {})
    await sub.wait_for(lambda i: i.original is not None)
    assert world.seen["modal"][0] == "a fox" and "message" not in sub.payload and sub.original.ephemeral  # type: ignore[union-attr]

    # From a button: the submit carries that message and may update it (callback 7).
    panel = await server.invoke(world.alice, world.general, "panel")
    await panel.wait_for(lambda i: i.original is not None)
    message: Message = panel.original  # type: ignore[assignment]
    shown = await server.click(world.alice, message, "tweak")
    await shown.wait_for(lambda i: i.modal is not None)
    sub = await server.submit_modal(world.alice, shown, {"Prompt": "3girls"})
    await sub.wait_response()
    assert sub.payload["message"]["id"] == str(message.id) and sub.responses[0].type == 7
    assert message.content == "edited: 3girls" and message.components == []
    assert server.validation_errors == [] and world.errors == []


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
