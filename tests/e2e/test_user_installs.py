"""The app through a member's own install, end to end (real bot, local Discord): in the bot's DM,
in a server without the bot (its age-restricted flag, then [user_installs] max_rating), one quota
for all such places, a late result sent by DM with a link back, and where each command may be
used."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.e2e.answers import EPHEMERAL, private_text
from tests.e2e.conftest import World, running_world
from tests.fakediscord import DEFAULT_EVERYONE_PERMISSIONS, USE_EXTERNAL_APPS
from tests.fakediscord.state import Interaction, Message

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

GUILD_INSTALL, USER_INSTALL = 0, 1
GUILD, BOT_DM, PRIVATE_CHANNEL = 0, 1, 2


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    sections: dict[str, Any] = {
        "user_installs": {"max_rating": "questionable", "blocked_tags": ["spider"]},
        "quota": {"daily_images": 3, "max_active": 0, "cooldown_s": 0},
    }
    async with running_world(request.param, tmp_path_factory.mktemp("bot"), fast_model_dir, **sections) as world:
        world.server.install_for_user(world.alice)
        yield world


def pngs(messages: list[Message]) -> list[bytes]:
    return [a.data for m in messages for a in m.attachments if a.filename.endswith(".png")]


async def delivered(ix: Interaction, timeout: float = 120) -> Message:  # noqa: ASYNC109
    await ix.wait_for(lambda i: i.original is not None and bool(pngs([i.original])), timeout=timeout)
    assert ix.original is not None
    return ix.original


async def test_member_commands_install_for_members_and_admin_commands_do_not(world: World) -> None:
    commands = {c["name"]: c for c in world.server.commands()}
    for name in ("imagine", "describe", "help", "cancel", "quota", "settings", "Describe tags", "Remix"):
        assert commands[name]["integration_types"] == [GUILD_INSTALL, USER_INSTALL], name
        assert commands[name]["contexts"] == [GUILD, BOT_DM, PRIVATE_CHANNEL], name
    for name in ("mod", "quotas", "workers"):
        assert commands[name]["integration_types"] == [GUILD_INSTALL], name
        assert commands[name]["contexts"] == [GUILD], name


async def test_imagine_in_the_bots_dm_through_a_user_install(world: World) -> None:
    ix = await world.server.dm_invoke(world.alice, "imagine", {"prompt": "1girl, smile", "steps": 1}, install="user")
    assert (await ix.wait_response(timeout=3)).type == 5
    result = await delivered(ix)
    assert len(pngs([result])) == 1
    # A DM is not age-restricted: Discord's ceiling (sensitive) holds below the config's maximum.
    no = await world.server.dm_invoke(
        world.alice, "imagine", {"prompt": "1girl", "rating": "questionable"}, install="user"
    )
    assert "sensitive" in await private_text(no, timeout=5)


async def test_a_server_without_the_bot_uses_its_channel_flag_and_the_config(world: World) -> None:
    away = world.server.add_guild("Elsewhere", bot_member=False)
    plain = world.server.add_channel(away.id, "plain")
    adult = world.server.add_channel(away.id, "after-dark", nsfw=True)
    world.server.add_member(away.id, world.alice.id)
    ok = await world.server.invoke(
        world.alice, adult, "imagine", {"prompt": "1girl", "rating": "questionable", "steps": 1}, install="user"
    )
    assert (await ok.wait_response(timeout=3)).type == 5
    await delivered(ok)
    over = await world.server.invoke(
        world.alice, adult, "imagine", {"prompt": "1girl", "rating": "explicit"}, install="user"
    )
    assert "questionable" in await private_text(over, timeout=5)  # [user_installs] max_rating
    ceiling = await world.server.invoke(
        world.alice, plain, "imagine", {"prompt": "1girl", "rating": "questionable"}, install="user"
    )
    assert "sensitive" in await private_text(ceiling, timeout=5)  # Discord's ceiling outside age-restricted channels
    blocked = await world.server.invoke(world.alice, plain, "imagine", {"prompt": "1girl, spider"}, install="user")
    assert "spider" in await private_text(blocked, timeout=5)
    # One quota across every user-install place: two images made (DM and here), one left.
    quota = await world.server.invoke(world.alice, plain, "quota", install="user")
    assert "**1** of 3" in await private_text(quota, timeout=5)


async def test_a_late_result_goes_to_the_members_dms_with_a_link_back(world: World) -> None:
    away = world.server.add_guild("Far away", bot_member=False)
    channel = world.server.add_channel(away.id, "art")
    world.server.add_member(away.id, world.bob.id)
    world.server.install_for_user(world.bob)
    ix = await world.server.invoke(world.bob, channel, "imagine", {"prompt": "1boy", "steps": 8}, install="user")
    assert (await ix.wait_response(timeout=3)).type == 5
    world.server.expire_token(ix)  # the result finishes after the token died
    dm = world.server.state.dm_channel(world.bob.id)

    def dm_result() -> Message | None:
        found = [m for m in world.server.channel_messages(dm.id) if pngs([m])]
        return found[0] if found else None

    message: Message = await world.server.wait_for(dm_result, timeout=120)
    assert f"https://discord.com/channels/{away.id}/{channel.id}" in message.text
    assert not pngs(world.server.channel_messages(channel.id))  # nothing but the "thinking" answer there


async def test_where_members_apps_may_not_post_the_result_is_private_and_can_go_to_dms(world: World) -> None:
    strict = world.server.add_guild(
        "Strict", bot_member=False, everyone_permissions=DEFAULT_EVERYONE_PERMISSIONS & ~USE_EXTERNAL_APPS
    )
    channel = world.server.add_channel(strict.id, "general")
    world.server.add_member(strict.id, world.alice.id)
    ix = await world.server.invoke(world.alice, channel, "imagine", {"prompt": "1girl", "steps": 1}, install="user")
    answer = await ix.wait_response(timeout=3)
    assert answer.type == 5 and answer.data is not None and answer.data.get("flags", 0) & EPHEMERAL
    result = await delivered(ix)
    assert result.ephemeral and "Only you can see this" in result.text
    dm_button = next(c for c in result.custom_ids if c.startswith("res:dm:"))
    assert not any(c.startswith("res:delete:") for c in result.custom_ids)
    click = await world.server.click(world.alice, result, dm_button)
    await click.wait_for(lambda i: i.original is not None and "Sent to your DMs" in i.original.content, timeout=30)
    dm = world.server.state.dm_channel(world.alice.id)
    sent = [m for m in world.server.channel_messages(dm.id) if "Your image from" in m.content]
    assert sent and pngs(sent) == pngs([result])


async def test_imagine_in_a_group_dm_through_a_user_install(world: World) -> None:
    group = world.server.add_group_dm([world.alice, world.bob], name="pals")
    world.server.install_for_user(world.bob)
    ix = await world.server.invoke(world.bob, group, "imagine", {"prompt": "2girls", "steps": 1}, install="user")
    assert (await ix.wait_response(timeout=3)).type == 5
    await delivered(ix)
    with pytest.raises(Exception, match="not offer|not allowed|integration|context"):
        await world.server.invoke(world.bob, group, "mod show", install="user")  # admin commands stay in servers


async def test_the_commands_carry_their_names_and_descriptions_in_five_languages(world: World) -> None:
    commands = {c["name"]: c for c in world.server.commands()}
    imagine = commands["imagine"]
    for locale in ("ja", "zh-CN", "zh-TW", "ko"):  # English is the source: the plain name and description
        assert imagine["name_localizations"][locale] and imagine["description_localizations"][locale], locale
        prompt = next(o for o in imagine["options"] if o["name"] == "prompt")
        assert prompt["name_localizations"][locale] and prompt["description_localizations"][locale], locale
        assert commands["Remix"]["name_localizations"][locale], locale
    assert imagine["name_localizations"]["ja"] != "imagine" and imagine["description"].startswith("Generate")
