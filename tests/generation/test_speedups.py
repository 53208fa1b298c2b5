"""The speed switches: applied as configured, and an image is the same with or without them."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import torch
from PIL import Image

from core.config import ModelConfig
from generation.loader import load_pipeline
from generation.request import ImagineOptions, PromptLimits, build_request
from generation.runner import run_request
from generation.speedups import enabled, set_vae_slicing, warm_up, warmup_requests
from tests.support.rules import ORDINARY


def _pixels(png: bytes) -> bytes:
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("RGB").tobytes()


def test_auto_means_cuda_only() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert enabled("auto", cuda) and not enabled("auto", cpu)
    assert enabled("on", cpu) and not enabled("off", cuda)
    defaults = ModelConfig()
    assert (defaults.channels_last, defaults.fuse_qkv, defaults.compile) == ("auto", "auto", "off")


def test_fused_qkv_and_channels_last_keep_the_image(tiny_model_dir: Path) -> None:
    plain = load_pipeline(ModelConfig(source=str(tiny_model_dir), device="cpu"))
    fast = load_pipeline(
        ModelConfig(source=str(tiny_model_dir), device="cpu", fuse_qkv="on", channels_last="on", warmup="on")
    )
    assert plain.speedups == ("sdpa",)
    assert fast.speedups == ("sdpa", "fused-qkv", "channels-last") and fast.warmup
    conv = fast.pipeline.unet.conv_in.weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    request = build_request(
        ImagineOptions(prompt="1girl, smile", steps=2, seed=3),
        limits=PromptLimits(),
        user_id=1,
        guild_id=2,
        channel_id=3,
        rules=ORDINARY,
    )
    small = dataclasses.replace(request, width=64, height=64)
    a, b = run_request(plain, small), run_request(fast, small)
    diff = max(abs(x - y) for x, y in zip(_pixels(a.png), _pixels(b.png), strict=True))
    assert diff <= 2


def test_vae_slicing_from_the_configured_batch(tiny_model_dir: Path) -> None:
    model = load_pipeline(ModelConfig(source=str(tiny_model_dir), device="cpu"))
    set_vae_slicing(model.pipeline, 4, 4)
    assert model.pipeline.vae.use_slicing
    set_vae_slicing(model.pipeline, 3, 4)
    assert not model.pipeline.vae.use_slicing


def test_warm_up_covers_every_trained_size_and_batch_when_compiled() -> None:
    calls: list[tuple[int, int, int]] = []
    line = warm_up(lambda w, h, b: calls.append((w, h, b)), compiled=True, max_batch=4)
    assert len(calls) == 9 * 2 and {b for _, _, b in calls} == {1, 4}
    assert line.startswith("warm-up done in") and "9 size(s)" in line
    calls.clear()
    warm_up(lambda w, h, b: calls.append((w, h, b)), compiled=False, max_batch=4)
    assert calls == [(1024, 1024, 1)]
    requests = warmup_requests(832, 1216, 3)
    assert [(r.width, r.height, r.steps, r.seed) for r in requests] == [(832, 1216, 1, s) for s in range(3)]
