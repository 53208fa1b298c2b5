"""Checks that need a CUDA GPU (skipped without one): the denoising loop makes no host-device
sync, and a job's image is the same alone and in a batch on the GPU too."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from core.config import ModelConfig
from generation.loader import LoadedModel, load_pipeline
from generation.runner import RunControl, run, run_request
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.request import (
    GenerationRequest,
    build_request,
)
from tests.support.rules import ORDINARY

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def cuda_model(fast_model_dir: Path) -> LoadedModel:
    # "" keeps the tiny model's own VAE (the auto choice would fetch the real one).
    return load_pipeline(ModelConfig(source=str(fast_model_dir), device="cuda", dtype="float16", vae=""))


def _request(seed: int, steps: int = 6) -> GenerationRequest:
    return build_request(
        ImagineOptions(prompt=f"1girl, smile, tag{seed}", aspect="1024x1024", steps=steps, seed=seed),
        limits=PromptLimits(),
        user_id=1,
        guild_id=2,
        channel_id=3,
        rules=ORDINARY,
    )


def test_no_host_device_sync_inside_the_denoising_loop(cuda_model: LoadedModel) -> None:
    """From the end of step 1 to the end of the last step, any synchronising CUDA call
    (a blocking copy, .item(), .cpu(), nonzero) raises."""

    def on_step(done: int, total: int) -> None:
        torch.cuda.set_sync_debug_mode("error" if done < total else "default")

    try:
        run_request(cuda_model, _request(3), RunControl(on_step=on_step))
        run(cuda_model, [_request(4), _request(5)], RunControl(on_step=on_step))
    finally:
        torch.cuda.set_sync_debug_mode("default")


def _pixels(png: bytes) -> list[int]:
    with Image.open(io.BytesIO(png)) as image:
        return list(image.convert("RGB").tobytes())


def test_same_image_alone_and_in_a_batch_on_the_gpu(cuda_model: LoadedModel) -> None:
    requests = [_request(10), _request(11), _request(12)]
    batched = run(cuda_model, requests)
    for request, result in zip(requests, batched, strict=True):
        alone = run_request(cuda_model, request)
        diff = max(abs(a - b) for a, b in zip(_pixels(alone.png), _pixels(result.png), strict=True))
        assert diff <= 4, f"seed {request.seed}: {diff}/255 apart"
