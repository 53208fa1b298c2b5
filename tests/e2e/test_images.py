"""Images in, end to end (real bot, local Discord whose CDN serves the attachments): /describe,
the "Describe tags" and "Remix" message menus, the prefilled forms submitted, /imagine image:,
Re-roll of a remix, each bad file answered privately with no job, and an input image rated above
the channel refused."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import onnx
import pytest
import pytest_asyncio
from onnx import TensorProto, helper
from PIL import Image
from sqlalchemy import func, select

from db.engine import create_engine
from db.models import Job
from generation.metadata import parse_infotext, read_png_parameters
from tests.e2e.conftest import World, running_world
from tests.e2e.pictures import fields, pngs, size
from tests.fakediscord.state import Attachment, Interaction, Message

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

EPHEMERAL = 64
MODAL = 9
# The tiny tagger's labels: (name, category, bias, weight on the red channel's mean).
# Strongly red pictures (mean red over 200 of 255) look questionable, all others (the tiny
# model's results included) general; the tags are fixed.
LABELS = (
    ("general", 9, 50.0, -1 / 4),
    ("sensitive", 9, -4.0, 0.0),
    ("questionable", 9, -50.0, 1 / 4),
    ("explicit", 9, -4.0, 0.0),
    ("1girl", 0, 4.0, 0.0),
    ("solo", 0, -4.0, 0.0),  # 0.02: under the general threshold
    ("smile", 0, 0.5, 0.0),  # 0.62
    ("blue_hair", 0, 2.0, 0.0),  # 0.88
    ("rem_(re:zero)", 4, 4.0, 0.0),  # 0.98: over the character threshold
    ("hatsune_miku", 4, 1.0, 0.0),  # 0.73: under it
    ("child", 0, -4.0, 0.0),  # 0.02: a minor-coded label, for the output check's minor rule (on by default)
)
DESCRIBED = r"1girl, rem \(re:zero\), re:zero kara hajimeru isekai seikatsu, blue hair, smile"


def colour_tagger(folder: Path) -> Path:
    """A WD14-shaped ONNX tagger (32x32 BGR input) whose rating follows the picture's redness."""
    n = len(LABELS)
    weights = [0.0] * (3 * n)
    for j, (_, _, _, red) in enumerate(LABELS):
        weights[2 * n + j] = red  # BGR: the red mean is the third input
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),
            helper.make_node("MatMul", ["mean", "weights"], ["scaled"]),
            helper.make_node("Add", ["scaled", "bias"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["output"]),
        ],
        "colour_wd14",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 32, 32, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", n])],
        initializer=[
            helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
            helper.make_tensor("weights", TensorProto.FLOAT, [3, n], weights),
            helper.make_tensor("bias", TensorProto.FLOAT, [n], [bias for _, _, bias, _ in LABELS]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 18)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    rows = ["tag_id,name,category,count"] + [f"{i},{name},{cat},100" for i, (name, cat, _, _) in enumerate(LABELS)]
    (folder / "selected_tags.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    workdir = tmp_path_factory.mktemp("bot")
    tagger = colour_tagger(workdir / "tagger")
    sections: dict[str, Any] = {
        "moderation": {"classifier": "wd14", "classifier_model": str(tagger)},
        "describe": {"max_image_bytes": 4 * 1024 * 1024},
    }
    async with running_world(request.param, workdir, fast_model_dir, **sections) as world:
        yield world


def picture(size: tuple[int, int], colour: tuple[int, int, int] = (40, 60, 200), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=fmt)
    return buffer.getvalue()


def attachment(
    data: bytes, filename: str = "picture.png", content_type: str | None = "image/png", **kw: Any
) -> Attachment:
    return Attachment(filename=filename, content_type=content_type, data=data, **kw)


def custom_ids(message: Message) -> list[str]:
    return message.custom_ids  # in the rows of a V2 layout or of an ordinary message


async def jobs_in_db(world: World) -> int:
    engine = create_engine(world.url_from_here)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(Job)) or 0)
    finally:
        await engine.dispose()


async def delivered(ix: Interaction, timeout: float = 240) -> list[bytes]:  # noqa: ASYNC109
    await ix.wait_for(lambda i: bool(pngs(i)), timeout=timeout)
    return pngs(ix)


async def refusal(ix: Interaction) -> str:
    """The private message a refused request gets (before or after the "thinking" answer)."""
    response = await ix.wait_response(timeout=5)
    if response.data is not None and response.data.get("flags", 0) & EPHEMERAL and response.type == 4:
        return str(response.data["content"])
    await ix.wait_for(lambda i: any(m.ephemeral for m in i.followups) or (i.original and "❌" in i.original.content))
    texts = [m.content for m in ix.followups if m.ephemeral]
    return texts[0] if texts else str(ix.original.content if ix.original else "")


async def test_describe_gives_the_tags_in_animagine_order_and_imagines_them(world: World) -> None:
    alice = world.alice
    ix = await world.server.invoke(alice, world.general, "describe", {"image": attachment(picture((832, 1216)))})
    assert (await ix.wait_response(timeout=3)).type == 5
    await ix.wait_for(lambda i: i.original is not None and "```" in i.original.content, timeout=30)
    assert ix.original is not None
    text = ix.original.content
    assert f"```\n{DESCRIBED}\n```" in text, text
    assert "rating **general**" in text and "832x1216" in text
    assert "hatsune" not in text and "solo" not in text
    (button,) = custom_ids(ix.original)
    assert button == "describe:imagine:832x1216"

    before = await jobs_in_db(world)
    click = await world.server.click(alice, ix.original, button)
    form = await click.wait_response(timeout=3)
    assert form.type == MODAL and form.data is not None
    values = {c["custom_id"]: c.get("value") for row in form.data["components"] for c in row["components"]}
    assert DESCRIBED in values.values() and "832x1216" in values.values()
    submitted = await world.server.submit_modal(
        alice, click, {"Prompt (Danbooru tags)": DESCRIBED + ", outdoors", "Size (width x height)": "832x1216"}
    )
    (png,) = await delivered(submitted)
    prompt = parse_infotext(read_png_parameters(png) or "")[0]
    assert prompt.startswith(r"1girl, rem \(re:zero\), re:zero kara hajimeru isekai seikatsu") and "outdoors" in prompt
    assert size(png) == (832, 1216)
    assert await jobs_in_db(world) == before + 1  # through the same gate, quota and queue


async def test_describe_tags_menu_reads_a_members_jpeg(world: World) -> None:
    posted = await world.server.post_message(
        world.bob,
        world.general,
        "look",
        attachments=[attachment(picture((900, 900), fmt="JPEG"), "art.jpg", "image/jpeg")],
    )
    ix = await world.server.context_menu(world.alice, posted, "Describe tags")
    await ix.wait_for(lambda i: i.original is not None and "```" in i.original.content, timeout=30)
    assert ix.original is not None and DESCRIBED in ix.original.content and "1024x1024" in ix.original.content


async def test_imagine_with_an_image_remixes_it_and_reroll_keeps_the_source(world: World) -> None:
    ix = await world.server.invoke(
        world.alice,
        world.general,
        "imagine",
        {"prompt": "1girl, smile", "image": attachment(picture((640, 480))), "strength": 0.5, "steps": 4, "seed": 9},
    )
    (png,) = await delivered(ix)
    assert size(png) == (1152, 896)  # the trained size closest to 4:3 (cropped, not padded)
    assert fields(png)["Denoising strength"] == "0.5" and fields(png)["Seed"] == "9"
    assert ix.original is not None
    ids = custom_ids(ix.original)
    assert not any(i.startswith("res:vary:") for i in ids)  # no variation of a remix
    reroll = await world.server.click(world.bob, ix.original, next(i for i in ids if i.startswith("res:reroll:")))
    (again,) = await delivered(reroll)
    assert fields(again)["Denoising strength"] == "0.5" and fields(again)["Seed"] != "9"
    assert size(again) == (1152, 896)


async def test_remix_menu_prefills_our_own_results_parameters(world: World) -> None:
    first = await world.server.invoke(world.bob, world.general, "imagine", {"prompt": "1boy, hat", "steps": 1})
    await delivered(first)
    assert first.original is not None
    menu = await world.server.context_menu(world.alice, first.original, "Remix")
    form = await menu.wait_response(timeout=3)
    assert form.type == MODAL and form.data is not None, menu.dump()
    values = {c["custom_id"]: c.get("value") for row in form.data["components"] for c in row["components"]}
    prompts = [v for v in values.values() if v and v.startswith("1boy, hat")]
    assert prompts and "masterpiece" in prompts[0]  # the image's own final prompt, presets included
    submitted = await world.server.submit_modal(world.alice, menu, {"Strength (0.05-1: how much is redrawn)": "0.6"})
    (png,) = await delivered(submitted)
    prompt = parse_infotext(read_png_parameters(png) or "")[0]
    assert prompt.count("masterpiece") == 1  # used as written: no preset added again
    assert fields(png)["Denoising strength"] == "0.6" and size(png) == size(pngs(first)[0])


async def test_bad_files_are_refused_privately_and_nothing_is_queued(world: World) -> None:
    big = Image.new("1", (20000, 20000))
    bomb = io.BytesIO()
    big.save(bomb, format="PNG")
    cases = [
        (attachment(b"hello, not an image", "notes.txt", "text/plain"), "PNG, JPEG"),
        (attachment(picture((64, 64), fmt="GIF"), "anim.gif", "image/gif"), "PNG, JPEG"),
        (attachment(picture((1024, 1024))[:300]), "truncated"),
        (attachment(bomb.getvalue()), "4096"),
        (attachment(picture((4097, 10))), "4096"),
        (attachment(picture((64, 64)), declared_size=5 * 1024 * 1024), "limit"),
    ]
    before = await jobs_in_db(world)
    for file, expected in cases:
        ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl", "image": file})
        text = await refusal(ix)
        assert expected in text, (file.filename, text)
        described = await world.server.invoke(world.alice, world.general, "describe", {"image": file})
        assert expected in await refusal(described)
    assert await jobs_in_db(world) == before


async def test_an_input_rated_above_the_channel_is_refused(world: World) -> None:
    red = attachment(picture((1024, 1024), colour=(230, 20, 20)))
    before = await jobs_in_db(world)
    ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl", "image": red})
    text = await refusal(ix)
    assert "looks **questionable**" in text and "up to **sensitive**" in text
    assert await jobs_in_db(world) == before


async def test_a_remix_survives_a_restart_and_the_describe_button_still_works(world: World) -> None:
    described = await world.server.invoke(
        world.bob, world.general, "describe", {"image": attachment(picture((900, 900)))}
    )
    await described.wait_for(lambda i: i.original is not None and "```" in i.original.content, timeout=30)
    ix = await world.server.invoke(
        world.bob,
        world.general,
        "imagine",
        {"prompt": "1girl, hat", "image": attachment(picture((1024, 1024))), "strength": 1.0, "steps": 20, "seed": 3},
    )
    await ix.wait_for(lambda i: i.original is not None and "Generating" in i.original.text, timeout=120)
    await world.restart_bot()  # mid-run: the job goes back to the queue with its source image
    (png,) = await delivered(ix)
    assert fields(png)["Denoising strength"] == "1" and fields(png)["Seed"] == "3" and size(png) == (1024, 1024)
    assert described.original is not None
    click = await world.server.click(world.bob, described.original, custom_ids(described.original)[0])
    assert (await click.wait_response(timeout=3)).type == MODAL
