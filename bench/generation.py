"""Generation speed, ours against stock diffusers in one run: ``python -m bench.generation``.

On CUDA it builds the full SDXL architecture (../shared/sdxl configs, random weights: the same
cost as Animagine XL 3.1) in float16 and measures 1024x1024, 28 steps, Euler a, CFG 7. Without
CUDA it runs the same comparison on a tiny SDXL pipeline at a small size so the code path is
exercised (``"config": "small-cpu"``; its numbers say nothing about a GPU). Prints JSON:

- ``stock``: ``StableDiffusionXLPipeline`` as most bots run it: float16, SDPA, diffusers' Euler
  a, the stock VAE config (upcast to float32 to decode), a generator on the device, the
  prompt as a string, one image per call. Measured first, on the untouched pipeline.
- ``ours``: then the same weights turned into the worker's path, as ``load_pipeline`` does:
  the speed-ups of ``[model]`` (``--compile on`` adds torch.compile), the fp16-safe VAE config
  (no upcast; the fp16-fix VAE has the same architecture, so the same cost), Euler a with
  prefetched noise, CPU generators, A1111 weighted conditioning and a PNG with metadata, at
  batch 1, 4 and 8 (``run``: the batching the worker does), after the bot's warm-up.
- seconds per image, images per minute, peak GPU memory, and the ratios ours/stock.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    EulerAncestralDiscreteScheduler,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

from core.config import ModelConfig, OnOff
from generation.conditioning import PromptEncoder
from generation.loader import MAX_PROMPT_CHUNKS, LoadedModel, SourceKind
from generation.noise import PrefetchedEulerAncestral
from generation.runner import run
from generation.speedups import apply_speedups
from moderation.policy import PolicySettings, effective_rules
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.request import (
    GenerationRequest,
    build_request,
)

ROOT = Path(__file__).resolve().parents[1]
SDXL_CONFIGS = ROOT.parent / "shared" / "sdxl"
PROMPT = "1girl, long hair, (smile:1.1), cherry blossoms, outdoors"


def full_sdxl(folder: Path, device: str, dtype: torch.dtype) -> StableDiffusionXLPipeline:
    """The SDXL architecture with random weights (the real model's cost, not its images)."""
    configs = {
        name: json.loads((SDXL_CONFIGS / f"{name}.json").read_text())
        for name in ("unet", "vae", "text_encoder", "text_encoder_2", "scheduler")
    }
    from tests.support.tiny_sdxl import tiny_tokenizers  # a small real CLIP BPE vocabulary

    tokenizer, tokenizer_2 = tiny_tokenizers(folder)
    pipe = StableDiffusionXLPipeline(
        vae=AutoencoderKL.from_config(configs["vae"]),
        text_encoder=CLIPTextModel(CLIPTextConfig(**configs["text_encoder"])),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**configs["text_encoder_2"])),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=UNet2DConditionModel.from_config(configs["unet"]),
        scheduler=EulerAncestralDiscreteScheduler.from_config(configs["scheduler"]),
        add_watermarker=False,
    )
    return pipe.to(device=device, dtype=dtype)


def small_sdxl(folder: Path) -> StableDiffusionXLPipeline:
    from tests.support.tiny_sdxl import build_tiny_sdxl

    return build_tiny_sdxl(folder, attention=True)


def tuned(pipe: StableDiffusionXLPipeline, device: str, dtype: torch.dtype, compile_: OnOff) -> LoadedModel:
    """The same pipeline (same weights), set up as load_pipeline sets up the bot's."""
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = PrefetchedEulerAncestral.from_config(pipe.scheduler.config)
    if dtype == torch.float16:
        pipe.vae.config.force_upcast = False  # what [model] vae = "auto" gives on CUDA
    speedups = apply_speedups(pipe, ModelConfig(compile=compile_), torch.device(device))
    return LoadedModel(
        pipeline=pipe,
        device=torch.device(device),
        dtype=dtype,
        source_kind=SourceKind.FOLDER,
        name="bench",
        short_hash=None,
        encoder=PromptEncoder.from_pipeline(pipe, max_chunks=MAX_PROMPT_CHUNKS),
        speedups=tuple(speedups),
    )


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _timed(device: str, call: Any) -> float:
    _sync(device)
    started = time.perf_counter()
    call()
    _sync(device)
    return time.perf_counter() - started


def _figures(device: str, seconds: float, images: int) -> dict[str, float | None]:
    per_image = seconds / images
    return {
        "seconds_per_image": round(per_image, 4),
        "images_per_minute": round(60 / per_image, 2),
        "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
    }


def _reset_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _request(size: int, steps: int) -> GenerationRequest:
    rules = effective_rules(age_restricted=False, server=PolicySettings(), channel=PolicySettings())
    base = build_request(
        ImagineOptions(prompt=PROMPT, steps=steps, cfg=7.0, seed=1),
        limits=PromptLimits(),
        user_id=1,
        guild_id=None,
        channel_id=1,
        rules=rules,
    )
    return dataclasses.replace(base, width=size, height=size)


BATCHES = (1, 4, 8)


def _stock_pipeline(config: str, folder: Path, device: str, dtype: torch.dtype) -> StableDiffusionXLPipeline:
    """The benchmark's pipeline as most bots run it: diffusers' own Euler a."""
    pipe = full_sdxl(folder, device, dtype) if config == "full" else small_sdxl(folder)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)
    return pipe


def _measure_stock(
    pipe: StableDiffusionXLPipeline, request: GenerationRequest, device: str, *, size: int, steps: int, images: int
) -> dict[str, float | None]:
    """Stock diffusers, one image per call, measured before the pipeline is tuned."""

    def stock_one(seed: int) -> None:
        pipe(
            prompt=PROMPT,
            negative_prompt=request.negative,
            width=size,
            height=size,
            num_inference_steps=steps,
            guidance_scale=7.0,
            generator=torch.Generator(device).manual_seed(seed),
        )

    stock_one(0)  # warm-up (kernels, allocator, cuDNN autotuning), outside the timings
    _reset_peak(device)
    return _figures(device, sum(_timed(device, lambda i=i: stock_one(i)) for i in range(images)), images)


def _ours(model: LoadedModel, request: GenerationRequest, batch: int, seed: int) -> None:
    run(model, [dataclasses.replace(request, seed=seed + i) for i in range(batch)])


def _warm_up(model: LoadedModel, request: GenerationRequest) -> float:
    """The bot's warm-up, timed: every shape, compiled if asked for."""
    warmup_started = time.perf_counter()
    for batch in BATCHES if "torch.compile" in model.speedups else (1,):
        _ours(model, request, batch, 0)
    return time.perf_counter() - warmup_started


def _measure_ours(
    model: LoadedModel, request: GenerationRequest, device: str, images: int
) -> dict[str, dict[str, float | None]]:
    """Our path at each batch size, ``images`` images (at least one batch) each."""
    ours_runs: dict[str, dict[str, float | None]] = {}
    for batch in BATCHES:
        _reset_peak(device)
        calls = max(1, images // batch)
        seconds = sum(_timed(device, lambda b=batch, c=c: _ours(model, request, b, 100 * c)) for c in range(calls))
        ours_runs[f"batch_{batch}"] = _figures(device, seconds, calls * batch)
    return ours_runs


def _ratios(ours_runs: dict[str, dict[str, float | None]], stock: dict[str, float | None]) -> dict[str, float]:
    stock_ipm = stock["images_per_minute"]
    assert stock_ipm is not None
    return {
        f"{name}_images_per_minute_vs_stock": round(run["images_per_minute"] / stock_ipm, 3)  # type: ignore[operator]
        for name, run in ours_runs.items()
    }


def main(*, config: str, images: int, size: int, steps: int, compile_: OnOff = "off") -> dict[str, Any]:
    device = "cuda" if config == "full" else "cpu"
    dtype = torch.float16 if device == "cuda" else torch.float32
    with tempfile.TemporaryDirectory() as folder:
        pipe = _stock_pipeline(config, Path(folder), device, dtype)
        request = _request(size, steps)
        stock = _measure_stock(pipe, request, device, size=size, steps=steps, images=images)
        model = tuned(pipe, device, dtype, compile_)
        warmup_s = _warm_up(model, request)
        ours_runs = _measure_ours(model, request, device, images)
        ratios = _ratios(ours_runs, stock)
        return {
            "benchmark": "generation",
            "config": "full-sdxl-cuda" if config == "full" else "small-cpu",
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "torch": torch.__version__,
            "dtype": str(dtype).removeprefix("torch."),
            "size": f"{size}x{size}",
            "steps": steps,
            "sampler": "Euler a",
            "cfg": 7.0,
            "images_per_measurement": images,
            "ours_speedups": list(model.speedups),
            "ours_warmup_s": round(warmup_s, 2),
            "stock": stock,
            "ours": ours_runs,
            "ratios": ratios,
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    cuda = torch.cuda.is_available()
    parser.add_argument("--config", choices=("full", "small"), default="full" if cuda else "small")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=1024 if cuda else 128)
    parser.add_argument("--steps", type=int, default=28 if cuda else 4)
    parser.add_argument("--compile", choices=("on", "off"), default="off", help="torch.compile our path")
    args = parser.parse_args()
    result = main(config=args.config, images=args.images, size=args.size, steps=args.steps, compile_=args.compile)
    print(json.dumps(result, indent=2))
