"""Components V2 job messages end to end (real bot, local Discord enforcing V2's rules): a status
that is a layout from the start with the preview in its gallery, a result with one spoilered and
one open image, its buttons after a restart, and the buttons of a result posted before V2."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from onnx import TensorProto, helper
from PIL import Image

from moderation.classifier import prepare_image
from tests.e2e.answers import private_text
from tests.e2e.conftest import World, running_world
from tests.e2e.pictures import fields, pngs
from tests.fakediscord.state import Attachment, Message, User
from tests.support.tiny_wd14 import labels_beside, save_graph

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

IS_COMPONENTS_V2 = 1 << 15
INTERVAL = 0.3
SIZE = 32  # the classifier's input, as tests.support.tiny_wd14's
N_TAGS = 8
PIXELS = SIZE * SIZE * 3


def direction_classifier(path: Path, toward: np.ndarray | None = None, away: np.ndarray | None = None) -> Path:
    """A WD14-shaped ONNX model that rates an image `sensitive` when its 32x32 BGR input is
    nearer `toward` than `away` (two inputs of the classifier), else `general`: two images of one
    job can be rated apart. Without them, every image is `general`."""
    if toward is None or away is None:
        weights, threshold, steepness = np.zeros(PIXELS, np.float32), 1.0, 20.0
    else:
        difference = (toward - away).reshape(-1).astype(np.float64)
        distance = float(np.linalg.norm(difference))
        weights = (difference / distance).astype(np.float32)  # a unit vector from `away` to `toward`
        threshold = float(weights @ ((toward + away) / 2).reshape(-1))
        steepness = 20 / distance
    base = [0.9, 0.05, 0.01, 0.01] + [0.0] * (N_TAGS - 4)
    delta = [-0.85, 0.85] + [0.0] * (N_TAGS - 2)
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["input", "flat"], ["pixels"]),  # [batch, 3072]
            helper.make_node("MatMul", ["pixels", "weights"], ["along"]),  # [batch]
            helper.make_node("Sub", ["along", "threshold"], ["past"]),
            helper.make_node("Mul", ["past", "steepness"], ["scaled"]),
            helper.make_node("Sigmoid", ["scaled"], ["sensitive"]),
            helper.make_node("Unsqueeze", ["sensitive", "one"], ["column"]),  # [batch, 1]
            helper.make_node("Mul", ["column", "delta"], ["shift"]),  # [batch, n]
            helper.make_node("Add", ["shift", "base"], ["output"]),
        ],
        "direction_wd14_tagger",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", N_TAGS])],
        initializer=[
            helper.make_tensor("flat", TensorProto.INT64, [2], [-1, PIXELS]),
            helper.make_tensor("weights", TensorProto.FLOAT, [PIXELS], weights.tolist()),
            helper.make_tensor("threshold", TensorProto.FLOAT, [], [threshold]),
            helper.make_tensor("steepness", TensorProto.FLOAT, [], [steepness]),
            helper.make_tensor("one", TensorProto.INT64, [1], [1]),
            helper.make_tensor("delta", TensorProto.FLOAT, [N_TAGS], delta),
            helper.make_tensor("base", TensorProto.FLOAT, [N_TAGS], base),
        ],
    )
    return save_graph(graph, path)


def images(message: Message) -> list[bytes]:
    return [a.data for a in message.attachments if a.filename.endswith(".png")]


def seen(png: bytes) -> np.ndarray:
    """What the classifier sees of one of the bot's PNGs."""
    with Image.open(io.BytesIO(png)) as image:
        return prepare_image(image, SIZE)[0]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    workdir = tmp_path_factory.mktemp("v2bot")
    classifier = direction_classifier(workdir / "direction" / "model.onnx")
    labels_beside(classifier)  # the output check's minor rule (on by default) reads them
    sections: dict[str, Any] = {
        "moderation": {"classifier": "wd14", "classifier_model": str(classifier.parent)},
        "generation": {"progress_interval_s": INTERVAL},
    }
    async with running_world(request.param, workdir, fast_model_dir, **sections) as world:
        yield world


def member(world: World, name: str, permissions: int = 0) -> User:
    user = world.server.add_user(name)
    world.server.add_member(world.guild.id, user.id, permissions=permissions)
    return user


async def made(world: World, user: User, **options: Any) -> Message:
    ix = await world.server.invoke(user, world.general, "imagine", {"prompt": "1girl, smile", **options})
    assert (await ix.wait_response(timeout=3)).type == 5
    await ix.wait_for(lambda i: bool(pngs(i)), timeout=120)
    assert ix.original is not None
    return ix.original


def button(message: Message, prefix: str) -> str:
    found = [c for c in message.custom_ids if c.startswith(prefix)]
    assert found, f"no button {prefix!r} in {message.components}"
    return found[0]


async def clicked_result(world: World, user: User, message: Message, prefix: str) -> Message:
    click = await world.server.click(user, message, button(message, prefix))
    assert (await click.wait_response(timeout=3)).type == 5
    await click.wait_for(lambda i: bool(pngs(i)), timeout=120)
    assert click.original is not None
    return click.original


async def test_the_status_is_a_layout_from_the_start_with_the_preview_in_its_gallery(world: World) -> None:
    ada = member(world, "ada")
    ix = await world.server.invoke(ada, world.general, "imagine", {"prompt": "1girl", "steps": 30, "seed": 3})
    assert (await ix.wait_response(timeout=3)).type == 5  # the "thinking" message, empty
    await ix.wait_for(lambda i: bool(pngs(i)), timeout=120)
    message = ix.original
    assert message is not None and message.v2
    edits = message.versions  # every edit of the "thinking" message, which had nothing in it
    assert edits and all(v["flags"] & IS_COMPONENTS_V2 and not v["content"] and not v["embeds"] for v in edits)
    statuses = [Message(id=0, channel_id=0, components=v["components"]) for v in edits[:-1]]
    with_preview = [s for s in statuses if s.gallery]
    assert with_preview, "no status showed a preview"
    assert {i["media"]["url"] for s in with_preview for i in s.gallery} == {"attachment://preview.jpg"}
    assert any("Generating… step" in s.text for s in with_preview)
    assert all(len(s.custom_ids) == 1 and s.custom_ids[0].startswith("job:cancel:") for s in statuses)
    # The result replaced the preview: its gallery shows the image, and the preview file is gone.
    assert [a.filename for a in message.attachments] == ["animagine_3.png"]
    assert [i["media"]["url"] for i in message.gallery] == ["attachment://animagine_3.png"]
    assert "1girl" in message.text and "Seed 3" in message.text


def old_style_result(world: World, user: User, job_id: int, png: bytes) -> Message:
    """A result as the bot posted it before V2: content, an embed, the image, rows of buttons."""
    state = world.server.state
    attachment = Attachment(filename="animagine_77.png", content_type="image/png", data=png)
    attachment.id = state.snowflakes.next()

    def row(*actions: str) -> dict[str, Any]:
        buttons = [
            {"type": 2, "style": 4 if a == "delete" else 2, "label": a, "custom_id": f"res:{a}:{job_id}:0"}
            for a in actions
        ]
        return {"type": 1, "components": buttons}

    embed = {"description": "**Prompt**\n1girl, smile", "image": {"url": "attachment://animagine_77.png"}}
    message = Message(
        id=state.snowflakes.next(),
        channel_id=world.general.id,
        author_id=state.bot_user.id,
        content=f"<@{user.id}>",
        embeds=[embed],
        components=[row("reroll", "vary", "up", "params", "delete")],
        attachments=[attachment],
        webhook_id=state.application_id,
    )
    return state.add_message(message)


async def test_the_buttons_of_a_result_posted_before_v2_still_work(world: World) -> None:
    bea = member(world, "bea")
    made_now = await made(world, bea, seed=77, steps=2, aspect="1024x1024")  # Upscale needs 2 steps
    job_id = int(button(made_now, "res:params:").split(":")[2])
    old = old_style_result(world, bea, job_id, images(made_now)[0])
    assert not old.v2

    params = await world.server.click(bea, old, f"res:params:{job_id}:0")
    assert "seed:77" in await private_text(params, timeout=3)
    again = await clicked_result(world, bea, old, "res:up:")
    assert again.v2 and fields(images(again)[0])["Seed"] == "77" and fields(images(again)[0])["Hires upscale"] == "1.5"
    deleted = await world.server.click(bea, old, f"res:delete:{job_id}:0")
    assert "Deleted" in await private_text(deleted, timeout=3)
    assert old.deleted


async def test_one_spoilered_and_one_open_image_and_the_buttons_after_a_restart(world: World) -> None:
    cleo = member(world, "cleo")
    first = await made(world, cleo, count=2, seed=4242, steps=2, aspect="1024x1024")
    assert first.v2 and [i.get("spoiler", False) for i in first.gallery] == [False, False]
    one, other = (seen(png) for png in images(first))  # seeds 4242 and 4243
    assert float(np.linalg.norm(one - other)) > 1.0  # two seeds, two different pictures

    # From now on the first picture is `sensitive`, above a `general` channel that spoilers.
    model = world.bot.config.parent / "direction" / "model.onnx"  # the bot reads it again at its start
    direction_classifier(model, toward=one, away=other)
    options = {"scope": "channel", "maximum": "general", "over_limit": "spoiler"}
    ruled = await world.server.invoke(world.mod, world.general, "mod rating", options)
    assert "max `general`" in await private_text(ruled, timeout=3)
    await world.restart_bot()

    # The V2 result's buttons after the restart.
    params = await world.server.click(cleo, first, button(first, "res:params:"))
    assert "seed:4242" in await private_text(params, timeout=3)
    upscaled = await clicked_result(world, cleo, first, "res:up:")
    assert upscaled.v2 and fields(images(upscaled)[0])["Seed"] == "4242"

    # The same two pictures again: only the first is a spoiler, the other is shown openly.
    second = await made(world, cleo, count=2, seed=4242, steps=2, aspect="1024x1024")
    assert [item.get("spoiler", False) for item in second.gallery] == [True, False]
    names = [a.filename for a in second.attachments]
    assert names == ["SPOILER_animagine_4242.png", "animagine_4243.png"]
    assert [i["media"]["url"] for i in second.gallery] == [f"attachment://{n}" for n in names]
    assert "shown as a spoiler" in second.text
    assert button(second, "res:reroll:") and button(second, "res:delete:")  # every image shown: all buttons
