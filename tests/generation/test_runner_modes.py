"""count, variation seeds, the hires pass and latent previews on a tiny real pipeline."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from core.config import ModelConfig
from generation.loader import LoadedModel, load_pipeline
from generation.metadata import parse_infotext, read_png_parameters
from generation.preview import latent_preview
from generation.runner import RunControl, hires_steps, img2img_schedule, run_request
from prompt.options import (
    PromptLimits,
)
from prompt.request import build_request
from tests.support.requests import validated_request
from tests.support.rules import ORDINARY


@pytest.fixture(scope="module")
def fast_model(fast_model_dir: Path) -> LoadedModel:
    return load_pipeline(ModelConfig(source=str(fast_model_dir), device="cpu"))


def _request(**options: object):  # type: ignore[no-untyped-def]
    merged: dict[str, object] = {"prompt": "1girl, smile", "aspect": "1024x1024", "steps": 2, "seed": 40, **options}
    return validated_request(**merged)


def _fields(png: bytes) -> dict[str, str]:
    return parse_infotext(read_png_parameters(png) or "")[2]


def test_count_makes_one_image_per_consecutive_seed_each_equal_to_its_seed_alone(fast_model: LoadedModel) -> None:
    batch = run_request(fast_model, _request(count=3))
    assert [image.seed for image in batch.images] == [40, 41, 42]
    assert [_fields(image.png)["Seed"] for image in batch.images] == ["40", "41", "42"]
    alone = run_request(fast_model, _request(seed=41))
    with Image.open(io.BytesIO(batch.images[1].png)) as a, Image.open(io.BytesIO(alone.png)) as b:
        diff = max(abs(x - y) for x, y in zip(a.tobytes(), b.tobytes(), strict=True))
    assert diff <= 2  # same noise, same image (batched float math may differ in the last bit)


def test_variation_strength_zero_is_the_plain_seed_and_more_changes_the_image(fast_model: LoadedModel) -> None:
    plain = run_request(fast_model, _request())
    same = run_request(fast_model, _request(variation_seed=999, variation_strength=0.0))
    varied = run_request(fast_model, _request(variation_seed=999, variation_strength=0.3))
    with Image.open(io.BytesIO(plain.png)) as a, Image.open(io.BytesIO(same.png)) as b:
        assert a.tobytes() == b.tobytes()
    assert varied.png != plain.png
    fields = _fields(varied.png)
    assert fields["Seed"] == "40" and fields["Variation seed"] == "999" and fields["Variation seed strength"] == "0.3"


def test_hires_pass_enlarges_by_one_and_a_half_and_reports_every_step(fast_model: LoadedModel) -> None:
    request = _request(steps=4, hires=True, aspect="832x1216")
    steps: list[tuple[int, int]] = []
    result = run_request(fast_model, request, RunControl(on_step=lambda s, t: steps.append((s, t))))
    assert (result.width, result.height) == request.output_size == (1248, 1824)
    total = 4 + hires_steps(request)
    assert steps == [(i, total) for i in range(1, total + 1)]
    fields = _fields(result.png)
    assert fields["Size"] == "832x1216"  # A1111 records the base size with the hires fields
    assert fields["Denoising strength"] == "0.55" and fields["Hires upscale"] == "1.5"


def test_previews_are_small_jpegs_made_only_when_asked(fast_model: LoadedModel) -> None:
    previews: list[bytes] = []
    asked = iter([False, True, False, True])
    run_request(fast_model, _request(steps=4), RunControl(want_preview=lambda: next(asked), on_preview=previews.append))
    assert len(previews) == 2
    for data in previews:
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and max(image.size) == 256


def test_latent_preview_maps_sdxl_channels_to_rgb() -> None:
    latents = torch.zeros(1, 4, 16, 12)
    latents[0, 0] = 2.0  # channel 0 is bright in every colour
    with Image.open(io.BytesIO(latent_preview(latents))) as image:
        assert image.size == (192, 256)
        r, g, b = image.convert("RGB").getpixel((96, 128))  # type: ignore[misc]
        assert min(r, g, b) > 200


def test_options_round_trip_rebuilds_the_same_request() -> None:
    request = _request(count=2, seed=7)
    again = build_request(request.options(), limits=PromptLimits(), user_id=1, guild_id=2, channel_id=3, rules=ORDINARY)
    assert again == request
    assert dataclasses.replace(request, hires=True).output_size == (1536, 1536)


def _pixels(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB").tobytes()


def test_a_request_makes_the_same_image_alone_and_in_a_batch(fast_model: LoadedModel) -> None:
    from generation.runner import batch_key, run

    requests = [
        _request(prompt="1girl, smile", seed=5),
        _request(prompt="1boy, city, night", seed=6, count=2),
        _request(prompt="cat, window", seed=7, negative="blurry"),
    ]
    assert len({batch_key(fast_model, r) for r in requests}) == 1
    steps: list[tuple[int, int]] = []
    batched = run(fast_model, requests, RunControl(on_step=lambda s, t: steps.append((s, t))))
    assert steps == [(1, 2), (2, 2)]
    assert [len(r.images) for r in batched] == [1, 2, 1]
    for request, result in zip(requests, batched, strict=True):
        alone = run_request(fast_model, request)
        assert [i.seed for i in result.images] == [i.seed for i in alone.images]
        for mine, solo in zip(result.images, alone.images, strict=True):
            assert mine.infotext == solo.infotext
            diff = max(abs(a - b) for a, b in zip(_pixels(mine.png), _pixels(solo.png), strict=True))
            assert diff <= 2, (request.user_prompt, diff)


def test_requests_that_cannot_share_a_batch_have_different_keys(fast_model: LoadedModel) -> None:
    from generation.runner import batch_key

    base = batch_key(fast_model, _request())
    assert batch_key(fast_model, _request(steps=3)) != base
    assert batch_key(fast_model, _request(aspect="832x1216")) != base
    assert batch_key(fast_model, _request(cfg=5.0)) != base
    assert batch_key(fast_model, _request(prompt=", ".join(f"tag{i}" for i in range(120)))) != base  # 2 chunks
    assert batch_key(fast_model, _request(hires=True)) is None
    assert batch_key(fast_model, _request(variation_seed=3, variation_strength=0.1)) is None


def test_upscale_of_a_one_step_image_runs_one_hires_step_and_records_its_schedule(fast_model: LoadedModel) -> None:
    # int(1 * 0.55) is 0: diffusers' img2img would run no step and return no image.
    request = _request(steps=1, hires=True)
    steps: list[tuple[int, int]] = []
    result = run_request(fast_model, request, RunControl(on_step=lambda s, t: steps.append((s, t))))
    assert (result.width, result.height) == request.output_size == (1536, 1536)
    assert hires_steps(request) == 1 and steps == [(1, 2), (2, 2)]
    fields = _fields(result.png)
    # A1111's "Hires steps": the hires pass's schedule, of which int(2 * 0.55) = 1 step runs.
    assert fields["Steps"] == "1" and fields["Hires steps"] == "2" and fields["Denoising strength"] == "0.55"


def test_the_hires_schedule_is_the_request_s_steps_when_they_give_a_step() -> None:
    assert [img2img_schedule(steps, 0.55) for steps in (1, 2, 4, 28)] == [2, 2, 4, 28]
    assert [img2img_schedule(2, strength) for strength in (0.05, 0.3, 0.5, 1.0)] == [20, 4, 2, 2]
