"""The speed switches: applied as configured, and an image is the same with or without them."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import pytest
import torch
from PIL import Image

from core.config import ModelConfig
from generation.loader import load_pipeline
from generation.runner import hires_steps, run, run_request
from generation.speedups import WarmupShape, enabled, set_vae_slicing, warm_up, warmup_requests, warmup_shapes
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.presets import RESOLUTIONS
from prompt.request import build_request
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


def test_warm_up_covers_every_shape_a_job_can_have_when_compiled() -> None:
    shapes = warmup_shapes(compiled=True, max_batch=6)
    plain = [s for s in shapes if not s.hires]
    assert {(s.width, s.height) for s in plain} == {(r.width, r.height) for r in RESOLUTIONS}
    assert {s.batch for s in plain} == set(range(1, 7)) and len(plain) == 9 * 6
    # count alone makes calls of up to 4 images, even without batching.
    assert {s.batch for s in warmup_shapes(compiled=True, max_batch=1) if not s.hires} == {1, 2, 3, 4}
    assert [(s.batch, s.hires) for s in shapes if s.hires] == [(1, True)] * 9
    assert warmup_shapes(compiled=False, max_batch=4) == [WarmupShape(1024, 1024, 1)]

    seen: list[WarmupShape] = []
    line = warm_up(seen.append, shapes)
    assert seen == shapes
    assert line.startswith("warm-up done in") and "9 size(s) x batch 1, 2, 3, 4, 5, 6" in line
    assert line.endswith("and the upscale of 9 size(s)")

    requests = warmup_requests(WarmupShape(832, 1216, 3))
    assert [(r.width, r.height, r.steps, r.seed) for r in requests] == [(832, 1216, 1, s) for s in range(3)]
    (hires,) = warmup_requests(WarmupShape(832, 1216, 1, hires=True))
    assert hires.hires and hires_steps(hires) >= 1


def test_compile_warms_up_once_and_then_never_recompiles(
    fast_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch.compile on the CPU (Inductor's C++ backend) with the bot's settings: after the
    warm-up, other batch sizes and a long prompt reuse the graphs, and the image is the same."""
    import torch._dynamo.config as dynamo_config

    for name in ("recompile_limit", "accumulated_recompile_limit", "automatic_dynamic_shapes"):
        monkeypatch.setattr(dynamo_config, name, getattr(dynamo_config, name))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    torch._dynamo.reset()
    config = ModelConfig(source=str(fast_model_dir), device="cpu", compile="on", compile_cache_dir=str(tmp_path))
    compiled = load_pipeline(config)
    plain = load_pipeline(ModelConfig(source=str(fast_model_dir), device="cpu"))
    try:
        assert compiled.speedups[-1] == "torch.compile" and compiled.warmup
        assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path)
        assert dynamo_config.recompile_limit >= 2 * len(RESOLUTIONS)
        # A dim of size 1 is always specialised, so batches 1 and 2 each get a graph; the
        # second one serves every larger batch (the bot's warm-up runs every batch size).
        warm_up(
            lambda shape: run(compiled, warmup_requests(shape)),
            [WarmupShape(1024, 1024, 1), WarmupShape(1024, 1024, 2)],
        )
        assert any(tmp_path.iterdir())  # compiled kernels went to the cache folder

        monkeypatch.setattr(dynamo_config, "error_on_recompile", True)
        long_prompt = ", ".join(f"tag{i}" for i in range(60))  # two 75-token chunks
        requests = [
            build_request(
                ImagineOptions(prompt=prompt, aspect="1024x1024", steps=2, seed=seed),
                limits=PromptLimits(),
                user_id=1,
                guild_id=2,
                channel_id=3,
                rules=ORDINARY,
            )
            for seed, prompt in ((5, long_prompt), (6, long_prompt), (7, long_prompt))
        ]
        (warm,) = warmup_requests(WarmupShape(1024, 1024, 1))
        chunks = compiled.encoder.length(long_prompt, requests[0].negative)
        assert chunks > compiled.encoder.length(warm.prompt, warm.negative)
        fast = run(compiled, requests)
    finally:
        torch._logging.set_logs()
        monkeypatch.setattr(dynamo_config, "error_on_recompile", False)
    slow = run(plain, requests)
    for a, b in zip(fast, slow, strict=True):
        diff = max(abs(x - y) for x, y in zip(_pixels(a.png), _pixels(b.png), strict=True))
        assert diff <= 2
