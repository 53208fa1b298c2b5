"""Euler a with its noise drawn before the loop makes exactly the stock scheduler's images,
and draws nothing inside the loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from diffusers import EulerAncestralDiscreteScheduler

from core.config import ModelConfig
from generation.loader import LoadedModel, load_pipeline
from generation.noise import PrefetchedEulerAncestral, draw_noise
from generation.runner import make_generator, run, run_request
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.request import (
    GenerationRequest,
    build_request,
)
from tests.support.rules import ORDINARY


@pytest.fixture(scope="module")
def model(fast_model_dir: Path) -> LoadedModel:
    return load_pipeline(ModelConfig(source=str(fast_model_dir), device="cpu"))


@pytest.fixture
def stock(model: LoadedModel) -> Iterator[LoadedModel]:
    """The same weights with diffusers' own Euler a."""
    ours = model.pipeline.scheduler
    model.pipeline.scheduler = EulerAncestralDiscreteScheduler.from_config(ours.config)
    try:
        yield model
    finally:
        model.pipeline.scheduler = ours


def _request(seed: int, *, steps: int = 3, size: int = 256, **options: object) -> GenerationRequest:
    request = build_request(
        ImagineOptions(prompt=f"1girl, smile, tag{seed}", steps=steps, seed=seed, **options),  # type: ignore[arg-type]
        limits=PromptLimits(),
        user_id=1,
        guild_id=2,
        channel_id=3,
        rules=ORDINARY,
    )
    return dataclasses.replace(request, width=size, height=size + 64)


CASES = {
    "one image": _request(7),
    "count 3": _request(8, count=3),
    "variation seed": _request(9, variation_seed=99, variation_strength=0.3),
}


def test_the_loader_installs_the_prefetching_scheduler(model: LoadedModel) -> None:
    assert isinstance(model.pipeline.scheduler, PrefetchedEulerAncestral)


@pytest.mark.parametrize("name", CASES)
def test_same_pixels_as_the_stock_scheduler(name: str, model: LoadedModel, stock: LoadedModel) -> None:
    request = CASES[name]
    theirs = run_request(stock, request)
    model.pipeline.scheduler = PrefetchedEulerAncestral.from_config(model.pipeline.scheduler.config)
    ours = run_request(model, request)
    assert [i.png for i in ours.images] == [i.png for i in theirs.images]


def test_a_batch_is_the_same_as_stock_too(model: LoadedModel, stock: LoadedModel) -> None:
    requests = [_request(20), _request(21, count=2)]
    theirs = run(stock, requests)
    model.pipeline.scheduler = PrefetchedEulerAncestral.from_config(model.pipeline.scheduler.config)
    ours = run(model, requests)
    assert [[i.png for i in r.images] for r in ours] == [[i.png for i in r.images] for r in theirs]


def test_nothing_is_drawn_inside_the_loop(model: LoadedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    import diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl as pipeline_module
    import diffusers.schedulers.scheduling_euler_ancestral_discrete as scheduler_module

    def refuse(*args: object, **kwargs: object) -> torch.Tensor:
        raise AssertionError("noise drawn during the pipeline call")

    monkeypatch.setattr(scheduler_module, "randn_tensor", refuse)
    monkeypatch.setattr(pipeline_module, "randn_tensor", refuse)
    run_request(model, _request(30, count=2))
    run(model, [_request(31), _request(32)])
    assert model.pipeline.scheduler._prefetched is None  # unloaded after the call


def test_the_hires_pass_falls_back_to_stock_drawing(model: LoadedModel) -> None:
    result = run_request(model, _request(40, steps=2, size=128, hires=True))
    assert (result.width, result.height) == (192, 288)


def test_draw_order_matches_diffusers() -> None:
    latents, noise = draw_noise(
        [make_generator(5), make_generator(6)], (4, 8, 8), 3, torch.float32, torch.device("cpu")
    )
    assert latents.shape == (2, 4, 8, 8) and noise.shape == (3, 2, 4, 8, 8)
    for image, seed in enumerate((5, 6)):
        generator = make_generator(seed)
        assert torch.equal(latents[image : image + 1], torch.randn((1, 4, 8, 8), generator=generator))
        for step in range(3):
            assert torch.equal(noise[step, image : image + 1], torch.randn((1, 4, 8, 8), generator=generator))


def test_too_few_steps_of_noise_and_double_loading_are_explained(model: LoadedModel) -> None:
    scheduler = model.pipeline.scheduler
    assert isinstance(scheduler, PrefetchedEulerAncestral)
    scheduler.set_timesteps(3)
    sample = torch.zeros(1, 4, 8, 8)
    with scheduler.noise(torch.zeros(1, 1, 4, 8, 8)):
        with pytest.raises(RuntimeError, match="already loaded"), scheduler.noise(torch.zeros(1, 1, 4, 8, 8)):
            pass
        scheduler.scale_model_input(sample, scheduler.timesteps[0])
        scheduler.step(sample, scheduler.timesteps[0], sample)
        with pytest.raises(ValueError, match="covers 1 steps"):
            scheduler.step(sample, scheduler.timesteps[1], sample)
    assert scheduler._prefetched is None
