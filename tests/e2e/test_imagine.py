"""/imagine end to end: the real bot process, the local Discord, the production loader."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from db.engine import create_engine
from db.models import Job
from generation.metadata import parse_infotext, read_png_parameters
from jobs.model import JobStatus
from prompt.presets import QUALITY_PRESETS
from tests.e2e.conftest import World

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

DEFER = 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
MESSAGE = 4  # CHANNEL_MESSAGE_WITH_SOURCE


def _image_done(ix) -> bool:  # type: ignore[no-untyped-def]
    # Progress edits carry a JPEG preview; the result is the PNG.
    return ix.original is not None and any(a.filename.endswith(".png") for a in ix.original.attachments)


async def _job_rows(world: World) -> list[Job]:
    engine = create_engine(world.url_from_here)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(Job).order_by(Job.id))).all())  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def test_commands_are_registered_with_the_documented_options(world: World) -> None:
    (imagine,) = [c for c in world.server.commands() if c["name"] == "imagine"]
    options = {o["name"]: o for o in imagine["options"]}
    assert list(options) == [
        "prompt",
        "negative",
        "aspect",
        "seed",
        "steps",
        "cfg",
        "quality",
        "style",
        "rating",
        "year",
        "aesthetic",
        "count",
        "image",
        "strength",
    ]
    assert options["image"]["type"] == 11 and options["strength"]["type"] == 10  # attachment, number
    assert (options["strength"]["min_value"], options["strength"]["max_value"]) == (0.05, 1)
    assert options["prompt"]["required"] is True
    assert options["prompt"]["autocomplete"] is True and options["negative"]["autocomplete"] is True
    assert [c["value"] for c in options["rating"]["choices"]] == ["general", "sensitive", "questionable", "explicit"]
    aspects = {c["value"]: c["name"] for c in options["aspect"]["choices"]}
    assert len(aspects) == 9
    assert aspects["832x1216"] == "13:19 (832x1216)"
    assert aspects["1536x640"] == "12:5 landscape (1536x640)"
    assert (options["steps"]["min_value"], options["steps"]["max_value"]) == (1, 50)
    assert (options["cfg"]["min_value"], options["cfg"]["max_value"]) == (1, 12)
    assert [c["value"] for c in options["quality"]["choices"]] == list(QUALITY_PRESETS)


async def test_imagine_delivers_a_png_with_a1111_parameters(world: World) -> None:
    ix = await world.server.invoke(
        world.alice,
        world.general,
        "imagine",
        {
            "prompt": "1girl, long hair, smile",
            "negative": "bad hands",
            "aspect": "832x1216",
            "seed": 1234,
            "steps": 3,
            "cfg": 5.5,
        },
    )
    first = await ix.wait_response(timeout=3)
    assert first.type == DEFER
    assert first.received_after < 3.0
    await ix.wait_for(_image_done, timeout=120)

    message = ix.original
    assert message is not None and not message.ephemeral
    (attachment,) = message.attachments
    assert attachment.filename.endswith(".png")
    with Image.open(io.BytesIO(attachment.data)) as image:
        assert image.format == "PNG"
        assert image.size == (832, 1216)
    prompt, negative, fields = parse_infotext(read_png_parameters(attachment.data) or "")
    assert prompt == "1girl, long hair, smile, safe, masterpiece, best quality, very aesthetic, absurdres"
    assert negative == QUALITY_PRESETS["Standard v3.1"].negative + ", bad hands, explicit"
    assert fields["Seed"] == "1234"
    assert fields["Steps"] == "3"
    assert fields["Sampler"] == "Euler a"
    assert fields["CFG scale"] == "5.5"
    assert fields["Size"] == "832x1216"
    assert fields["Model"] == "animagine-xl-3.1"

    # A Components V2 layout: the prompt and settings in text displays, the image in a gallery.
    assert message.v2 and message.embeds == [] and message.content == ""
    assert prompt in message.text
    settings = message.text.split("\n-# ")[1]
    values = dict(part.split(" ", 1) for part in settings.split(" · "))
    assert values["Seed"] == "1234"
    assert values["Size"] == "832x1216"
    assert values["Steps"] == "3"
    assert values["CFG"] == "5.5"
    assert values["Time"].endswith(" s")
    assert [item["media"]["url"] for item in message.gallery] == [f"attachment://{attachment.filename}"]

    # The job is recorded done right after its delivery (so a crash in between re-runs it).
    async with asyncio.timeout(10):
        while (job := (await _job_rows(world))[-1]).status != JobStatus.DONE:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    assert job.seed == 1234 and (job.width, job.height) == (832, 1216)
    assert job.started_at is not None and job.finished_at is not None and job.seconds


async def test_second_request_sees_its_queue_position(world: World) -> None:
    long = await world.server.invoke(
        world.alice, world.general, "imagine", {"prompt": "1girl, sky", "aspect": "1024x1024", "steps": 12}
    )
    await long.wait_response(timeout=3)
    queued = await world.server.invoke(
        world.bob, world.general, "imagine", {"prompt": "1boy, cat", "aspect": "640x1536", "steps": 2}
    )
    assert (await queued.wait_response(timeout=3)).type == DEFER
    await queued.wait_for(lambda ix: ix.original is not None and "you are #1 in line" in ix.original.text, timeout=60)
    await long.wait_for(lambda ix: ix.original is not None and "Generating… step" in ix.original.text, timeout=60)
    await long.wait_for(_image_done, timeout=120)
    await queued.wait_for(_image_done, timeout=120)
    with Image.open(io.BytesIO(queued.original.attachments[0].data)) as image:  # type: ignore[union-attr]
        assert image.size == (640, 1536)


async def test_bad_options_get_an_ephemeral_message_and_nothing_is_queued(world: World) -> None:
    before = len(await _job_rows(world))
    cases: list[tuple[dict[str, Any], str]] = [
        ({"prompt": "x" * 301}, "the limit is 300"),
        ({"prompt": " , , "}, "The prompt is empty"),
        ({"prompt": "1girl", "steps": 99}, "Steps must be between 1 and 50"),
        ({"prompt": "1girl", "cfg": 40.0}, "CFG must be between 1 and 12"),
        ({"prompt": "1girl", "aspect": "999x999"}, "`999x999` is not an allowed value"),
    ]
    for options, text in cases:
        ix = await world.server.invoke(world.alice, world.general, "imagine", options)
        response = await ix.wait_response(timeout=3)
        assert response.type == MESSAGE, options
        assert response.data is not None
        assert response.data["flags"] & 64, options  # ephemeral
        assert text in response.data["content"], (options, response.data["content"])
    assert len(await _job_rows(world)) == before


async def test_jobs_are_recorded_with_request_and_timings(world: World) -> None:
    rows = await _job_rows(world)
    async with asyncio.timeout(10):  # each job is recorded done just after its delivery
        while not all(r.status == JobStatus.DONE for r in rows):
            await asyncio.sleep(0.05)
            rows = await _job_rows(world)
    assert rows, "earlier tests made jobs"
    assert all(r.request and r.prompt for r in rows)
    assert len({r.id for r in rows}) == len(rows)


def _png_parameters(ix) -> tuple[str, str, dict[str, str]]:  # type: ignore[no-untyped-def]
    return parse_infotext(read_png_parameters(ix.original.attachments[0].data) or "")


async def test_weighted_prompt_longer_than_77_tokens_makes_an_image(world: World) -> None:
    tags = [f"(tag{i}:1.{i % 9 + 1})" if i % 3 == 0 else f"[word{i}]" for i in range(18)]
    prompt = "1girl, (long hair:1.3), " + ", ".join(tags) + ", BREAK, blue sky"
    ix = await world.server.invoke(
        world.alice, world.general, "imagine", {"prompt": prompt, "steps": 2, "aspect": "1024x1024", "seed": 5}
    )
    assert (await ix.wait_response(timeout=3)).type == DEFER
    await ix.wait_for(_image_done, timeout=120)
    final_prompt, _, fields = _png_parameters(ix)
    assert "(long hair:1.3)" in final_prompt and "[word1]" in final_prompt and "BREAK" in final_prompt
    assert fields["Seed"] == "5"


async def test_autocomplete_completes_the_last_tag(world: World) -> None:
    ix = await world.server.autocomplete(
        world.alice, world.general, "imagine", {"prompt": "1girl, long_ha"}, focused="prompt"
    )
    await ix.wait_for(lambda i: i.choices is not None, timeout=3)
    assert ix.responses[0].received_after < 3.0
    choices = ix.choices or []
    assert 0 < len(choices) <= 25
    assert all(1 <= len(c["name"]) <= 100 and 1 <= len(c["value"]) <= 100 for c in choices)
    assert choices[0]["value"] == "1girl, long hair"
    assert all(c["value"].startswith("1girl, ") for c in choices)

    negative = await world.server.autocomplete(
        world.alice, world.general, "imagine", {"prompt": "1girl", "negative": "lowr"}, focused="negative"
    )
    await negative.wait_for(lambda i: i.choices is not None, timeout=3)
    assert negative.choices and negative.choices[0]["value"] == "lowres"


async def test_rating_follows_the_channel_age_restriction(world: World) -> None:
    refused = await world.server.invoke(
        world.alice, world.general, "imagine", {"prompt": "1girl", "rating": "explicit", "steps": 1}
    )
    response = await refused.wait_response(timeout=3)
    assert response.type == MESSAGE and response.data is not None and response.data["flags"] & 64
    assert "the limit here is `sensitive`" in response.data["content"]

    allowed = await world.server.invoke(
        world.alice, world.nsfw, "imagine", {"prompt": "1girl", "rating": "explicit", "steps": 1, "aspect": "1024x1024"}
    )
    await allowed.wait_for(_image_done, timeout=120)
    prompt, negative, _ = _png_parameters(allowed)
    assert prompt.startswith("1girl, explicit, nsfw, masterpiece")
    assert not negative.startswith("nsfw")

    default = await world.server.invoke(
        world.alice, world.nsfw, "imagine", {"prompt": "1girl", "steps": 1, "aspect": "1024x1024"}
    )
    await default.wait_for(_image_done, timeout=120)
    prompt, negative, _ = _png_parameters(default)
    assert prompt.startswith("1girl, safe, masterpiece")
    assert negative.startswith("nsfw, lowres")
