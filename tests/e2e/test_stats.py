"""`/stats` end to end (real bot, local Discord): after two images and a refused prompt a
moderator with Manage Server sees them; a member without it is refused; the command is
registered for the server's install only, hidden from members."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.answers import private_text
from tests.e2e.conftest import World
from tests.fakediscord.state import Interaction

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

DEFER = 5
MANAGE_GUILD = 1 << 5
GUILD_INSTALL, GUILD = 0, 0

# The world is tests/e2e/conftest.py's: one bot per database backend for this module.


def _image_done(ix: Interaction) -> bool:
    return ix.original is not None and any(a.filename.endswith(".png") for a in ix.original.attachments)


async def _stats(world: World) -> str:
    ix = await world.server.invoke(world.mod, world.general, "stats", {})
    return await private_text(ix, timeout=5)


async def test_stats_is_for_the_servers_admins_only(world: World) -> None:
    (stats,) = [c for c in world.server.commands() if c["name"] == "stats"]
    assert int(stats["default_member_permissions"]) == MANAGE_GUILD  # hidden from members
    assert stats["integration_types"] == [GUILD_INSTALL]
    assert stats["contexts"] == [GUILD]
    ix = await world.server.invoke(world.alice, world.general, "stats", {})
    assert "Manage Server" in await private_text(ix, timeout=5)


async def test_a_moderator_sees_the_images_the_members_and_the_refusal(world: World) -> None:
    made = []
    for user, seed in ((world.alice, 1), (world.bob, 2)):
        ix = await world.server.invoke(
            user, world.general, "imagine", {"prompt": "1girl, smile", "seed": seed, "steps": 1}
        )
        assert (await ix.wait_response(timeout=3)).type == DEFER
        made.append(ix)
    refused = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl, nude"})
    assert "sexual" in await private_text(refused, timeout=5)
    for ix in made:
        await ix.wait_for(_image_done, timeout=180)

    text = ""
    for _ in range(50):  # a job is recorded as done just after its image is posted
        text = await _stats(world)
        if "Images made: **2** today" in text:
            break
        await asyncio.sleep(0.2)
    assert "today: since 00:00 UTC; this week: the last 7 days" in text
    assert "🖼️ Images made: **2** today, **2** this week" in text
    assert "👥 Members served: **2** today, **2** this week" in text
    assert "⏱️ Average wait before a job started: **" in text and "(over 2 job(s) this week)" in text
    assert "🚫 Refusals this week: **1**" in text
    assert "  • sexual content where the channel does not allow it: 1" in text
    assert "⏳ Queue now: **0** waiting (0 from this server), **0** being made (0 from this server)" in text
