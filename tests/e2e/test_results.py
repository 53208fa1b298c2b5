"""Result buttons, previews, /settings, count and /help end to end (real bot, local Discord)."""

from __future__ import annotations

import io
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from generation.metadata import parse_infotext, read_png_parameters
from tests.e2e.answers import private_text
from tests.e2e.conftest import World, running_world
from tests.e2e.pictures import fields, pngs, size
from tests.fakediscord.state import Interaction, Message, User

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

INTERVAL = 0.5


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    sections: dict[str, Any] = {
        "quota": {"daily_images": 20, "max_active": 0, "cooldown_s": 0},
        "generation": {"progress_interval_s": INTERVAL},
    }
    async with running_world(request.param, tmp_path_factory.mktemp("bot"), fast_model_dir, **sections) as world:
        yield world


def member(world: World, name: str, permissions: int = 0) -> User:
    user = world.server.add_user(name)
    world.server.add_member(world.guild.id, user.id, permissions=permissions)
    return user


async def made(world: World, user: User, timeout: float = 120, **options: Any) -> Interaction:  # noqa: ASYNC109
    ix = await world.server.invoke(user, world.general, "imagine", {"prompt": "1girl, smile", **options})
    assert (await ix.wait_response(timeout=3)).type == 5
    await ix.wait_for(lambda i: bool(pngs(i)), timeout=timeout)
    return ix


def button(message: Message, prefix: str) -> str:
    for custom_id in message.custom_ids:  # in the V2 layout's action rows, or an old message's rows
        if custom_id.startswith(prefix):
            return custom_id
    raise AssertionError(f"no button {prefix!r} in {message.components}")


async def clicked_result(world: World, user: User, message: Message, prefix: str) -> Interaction:
    click = await world.server.click(user, message, button(message, prefix))
    assert (await click.wait_response(timeout=3)).type == 5  # a new "thinking" message, then the image
    await click.wait_for(lambda i: bool(pngs(i)), timeout=120)
    return click


async def quota_used(world: World, user: User) -> str:
    return await private_text(await world.server.invoke(user, world.general, "quota"), timeout=3)


async def test_count_makes_several_attachments_on_consecutive_seeds_charged_per_image(world: World) -> None:
    kim = member(world, "kim")
    ix = await made(world, kim, count=3, seed=500, steps=1, aspect="1024x1024")
    images = pngs(ix)
    assert [fields(p)["Seed"] for p in images] == ["500", "501", "502"]
    assert all(size(p) == (1024, 1024) for p in images)
    assert "**17** of 20" in await quota_used(world, kim)
    assert ix.original is not None
    ids = ix.original.custom_ids
    assert {i.rsplit(":", 1)[0].split(":")[1] for i in ids} == {"reroll", "params", "up", "vary", "delete"}
    assert all(len(i) <= 100 for i in ids)


async def test_buttons_reroll_vary_upscale_and_parameters(world: World) -> None:
    lee, other = member(world, "lee"), member(world, "other")
    first = await made(world, lee, seed=77, steps=2, aspect="1024x1024", negative="bad hands")
    assert first.original is not None

    params = await world.server.click(lee, first.original, button(first.original, "res:params:"))
    text = await private_text(params, timeout=3)
    assert "```" in text and "1girl, smile" in text and "bad hands" in text
    assert "/imagine prompt:1girl, smile negative:bad hands aspect:1024x1024 seed:77 steps:2" in text

    reroll = await clicked_result(world, other, first.original, "res:reroll:")
    (png,) = pngs(reroll)
    assert fields(png)["Seed"] != "77" and parse_infotext(read_png_parameters(png) or "")[0].startswith("1girl, smile")
    assert reroll.user_id == other.id  # the clicker asks (and is charged), through the same gate

    vary = await clicked_result(world, lee, first.original, "res:vary:")
    (png,) = pngs(vary)
    assert fields(png)["Seed"] == "77" and "Variation seed" in fields(png)
    assert png != pngs(first)[0]

    upscale = await clicked_result(world, lee, first.original, "res:up:")
    (png,) = pngs(upscale)
    assert size(png) == (1536, 1536)
    assert fields(png)["Seed"] == "77" and fields(png)["Hires upscale"] == "1.5"
    assert upscale.original is not None
    with pytest.raises(AssertionError):
        button(upscale.original, "res:up:")  # already upscaled: no second upscale button


async def test_delete_is_for_the_requester_or_a_moderator(world: World) -> None:
    owner, stranger = member(world, "owner"), member(world, "stranger")
    moderator = member(world, "moderator", permissions=1 << 13)  # Manage Messages
    mine = await made(world, owner, steps=1, aspect="1024x1024")
    assert mine.original is not None
    refused = await world.server.click(stranger, mine.original, button(mine.original, "res:delete:"))
    assert "Only the member who asked" in await private_text(refused, timeout=3)
    assert not mine.original.deleted
    deleted = await world.server.click(owner, mine.original, button(mine.original, "res:delete:"))
    assert "Deleted" in await private_text(deleted, timeout=3)
    await mine.wait_for(lambda i: i.original is not None and i.original.deleted, timeout=5)

    theirs = await made(world, owner, steps=1, aspect="1024x1024")
    assert theirs.original is not None
    by_mod = await world.server.click(moderator, theirs.original, button(theirs.original, "res:delete:"))
    assert "Deleted" in await private_text(by_mod, timeout=3)
    await theirs.wait_for(lambda i: i.original is not None and i.original.deleted, timeout=5)


async def test_progress_edits_are_spaced_and_carry_jpeg_previews(world: World) -> None:
    max_ = member(world, "max")
    ix = await world.server.invoke(
        max_, world.general, "imagine", {"prompt": "1girl, smile", "steps": 40, "aspect": "1024x1024"}
    )
    previews: list[bytes] = []

    def saw_preview(i: Interaction) -> bool:
        if i.original is not None:
            previews.extend(a.data for a in i.original.attachments if a.filename == "preview.jpg")
        return bool(previews)

    await ix.wait_for(saw_preview, timeout=60)
    with Image.open(io.BytesIO(previews[0])) as image:
        assert image.format == "JPEG" and max(image.size) == 256
    await ix.wait_for(lambda i: bool(pngs(i)), timeout=120)
    assert ix.original is not None
    edits = ix.original.edits
    assert len(edits) >= 3
    gaps = [b - a for a, b in itertools.pairwise(edits)]
    # Status edits at most one per interval; only the final delivery may follow sooner.
    assert all(gap >= INTERVAL * 0.9 for gap in gaps[:-1]), gaps
    assert [a.filename for a in ix.original.attachments if a.filename.endswith(".jpg")] == []


async def test_settings_fill_what_the_command_leaves_out(world: World) -> None:
    sam = member(world, "sam")
    saved = await world.server.invoke(
        sam, world.general, "settings set", {"aspect": "1216x832", "quality": "Light v3.1", "negative": "blurry"}
    )
    assert "Saved" in await private_text(saved, timeout=3)
    from_settings = await made(world, sam, steps=1)
    png = pngs(from_settings)[0]
    assert size(png) == (1216, 832)
    negative = parse_infotext(read_png_parameters(png) or "")[1]
    assert "blurry" in negative.split(", ")
    option_wins = await made(world, sam, steps=1, aspect="832x1216")
    assert size(pngs(option_wins)[0]) == (832, 1216)
    shown = await private_text(await world.server.invoke(sam, world.general, "settings show"), timeout=3)
    assert "1216x832" in shown and "Light v3.1" in shown
    await private_text(await world.server.invoke(sam, world.general, "settings reset"), timeout=3)
    back = await made(world, sam, steps=1)
    assert size(pngs(back)[0]) == (896, 1152)


async def test_private_results_are_ephemeral_without_delete(world: World) -> None:
    pia = member(world, "pia")
    await private_text(await world.server.invoke(pia, world.general, "settings set", {"private": True}), timeout=3)
    ix = await made(world, pia, steps=1, aspect="1024x1024")
    assert ix.original is not None and ix.original.ephemeral
    with pytest.raises(AssertionError):
        button(ix.original, "res:delete:")


async def test_help_explains_tags_presets_and_the_limits_here(world: World) -> None:
    text = await private_text(await world.server.invoke(member(world, "new"), world.general, "help"), timeout=3)
    assert "Danbooru tags" in text and "Standard v3.1" in text
    assert "Ratings allowed in this channel:** `general`, `sensitive`" in text
    assert "of 20" in text and "/imagine prompt:" in text


async def test_result_buttons_work_after_a_restart(world: World) -> None:
    ray = member(world, "ray")
    before = await made(world, ray, seed=9, steps=1, aspect="1024x1024")
    assert before.original is not None
    await world.restart_bot()
    params = await world.server.click(ray, before.original, button(before.original, "res:params:"))
    assert "seed:9" in await private_text(params, timeout=3)
    again = await clicked_result(world, ray, before.original, "res:reroll:")
    assert len(pngs(again)) == 1
