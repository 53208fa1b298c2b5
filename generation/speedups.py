"""The tuned CUDA path, switch by switch ([model] in the config), and the start-up warm-up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import torch
from diffusers import StableDiffusionXLPipeline

from core.config import ModelConfig
from generation.presets import RESOLUTIONS
from generation.request import GenerationRequest, ImagineOptions, PromptLimits, build_request
from moderation.policy import PolicySettings, effective_rules

log = logging.getLogger(__name__)


def enabled(switch: str, device: torch.device) -> bool:
    return switch == "on" or (switch == "auto" and device.type == "cuda")


def apply_speedups(pipe: StableDiffusionXLPipeline, config: ModelConfig, device: torch.device) -> list[str]:
    """Apply what the config asks for; returns the names of what was applied, for the log.
    None of them changes an image beyond float rounding (tested on the CPU)."""
    applied = ["sdpa"]  # diffusers' default attention processor on torch 2 (scaled_dot_product_attention)
    if enabled(config.fuse_qkv, device):
        pipe.fuse_qkv_projections()
        applied.append("fused-qkv")
    if enabled(config.channels_last, device):
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
        applied.append("channels-last")
    if config.compile == "on":
        # No graph breaks in the loop: the step callback only reads a flag and copies nothing
        # to the host unless a preview was asked for.
        pipe.unet = torch.compile(pipe.unet, mode="max-autotune", fullgraph=True)  # type: ignore[assignment]
        pipe.vae.decode = torch.compile(pipe.vae.decode, mode="max-autotune", fullgraph=True)  # type: ignore[method-assign]
        applied.append("torch.compile")
    return applied


def set_vae_slicing(pipe: StableDiffusionXLPipeline, images: int, threshold: int) -> None:
    """Slice the VAE decode for big batches only: it saves memory and costs a little speed."""
    if images >= threshold:
        pipe.vae.enable_slicing()
    else:
        pipe.vae.disable_slicing()


def warm_up(run: Callable[[int, int, int], object], *, compiled: bool, max_batch: int) -> str:
    """Run tiny generations so kernels (and compiled graphs) exist before the first member asks.
    ``run(width, height, batch)`` makes one 1-step generation. Returns the log line."""
    started = time.perf_counter()
    sizes = [(r.width, r.height) for r in RESOLUTIONS] if compiled else [(1024, 1024)]
    batches = sorted({1, max_batch}) if compiled else [1]
    for width, height in sizes:
        for batch in batches:
            run(width, height, batch)
    return (
        f"warm-up done in {time.perf_counter() - started:.1f} s: ready for "
        f"{len(sizes)} size(s) x batch {', '.join(map(str, batches))}"
    )



def warmup_requests(width: int, height: int, batch: int) -> list[GenerationRequest]:
    """One-step requests of a trained size, as the worker will see them."""
    rules = effective_rules(age_restricted=False, server=PolicySettings(), channel=PolicySettings())
    return [
        build_request(
            ImagineOptions(prompt="1girl, smile", aspect=f"{width}x{height}", steps=1, seed=seed),
            limits=PromptLimits(),
            user_id=0,
            guild_id=None,
            channel_id=0,
            rules=rules,
        )
        for seed in range(batch)
    ]
