"""The tuned CUDA path, switch by switch ([model] in the config), and the start-up warm-up."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from diffusers import StableDiffusionXLPipeline

from core.config import ModelConfig
from moderation.policy import PolicySettings, effective_rules
from prompt.options import (
    MAX_COUNT,
    ImagineOptions,
    PromptLimits,
)
from prompt.presets import RESOLUTIONS
from prompt.request import (
    GenerationRequest,
    build_request,
)

log = logging.getLogger(__name__)


def enabled(switch: str, device: torch.device) -> bool:
    return switch == "on" or (switch == "auto" and device.type == "cuda")


@dataclass(frozen=True, slots=True)
class WarmupShape:
    """One pipeline-call shape that jobs can have: a trained size, the images in the call,
    and whether it is the hires pass (1.5x, img2img)."""

    width: int
    height: int
    batch: int
    hires: bool = False


def warmup_shapes(*, compiled: bool, max_batch: int) -> list[WarmupShape]:
    """Without compile one call makes the kernels exist. Compiled, every shape a job can have
    runs here: the nine sizes (a graph each) and their hires pass (another each), at every
    batch size, a batch of jobs or one job's ``count`` (the batch is dynamic in the graphs,
    but CUDA graphs are recorded per batch size)."""
    if not compiled:
        return [WarmupShape(1024, 1024, 1)]
    batches = range(1, max(max_batch, MAX_COUNT) + 1)
    shapes = [WarmupShape(r.width, r.height, b) for r in RESOLUTIONS for b in batches]
    return shapes + [WarmupShape(r.width, r.height, 1, hires=True) for r in RESOLUTIONS]


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
        prepare_compile(config.compile_cache_dir)
        # The image sizes stay static (kernels specialised to each trained size, all compiled by
        # the warm-up); the batch and the prompt's token length are dynamic, so a batch of 3 or
        # a long prompt reuses a size's graph instead of compiling while a member waits. No graph
        # breaks in the loop: the step callback only reads a flag and copies nothing to the host
        # unless a preview was asked for.
        unet = torch.compile(pipe.unet, mode="max-autotune", fullgraph=True)
        pipe.unet = DynamicDims(unet, _unet_dims)  # type: ignore[arg-type]
        decode = torch.compile(pipe.vae.decode, mode="max-autotune", fullgraph=True)
        pipe.vae.decode = marking_dynamic(decode, _vae_dims)  # type: ignore[method-assign]
        applied.append("torch.compile")
    return applied


def _unet_dims(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[torch.Tensor, int]]:
    sample = args[0] if args else kwargs["sample"]
    text = args[2] if len(args) > 2 else kwargs["encoder_hidden_states"]
    marks = [(sample, 0), (text, 0), (text, 1)]
    for tensor in (kwargs.get("added_cond_kwargs") or {}).values():
        marks.append((tensor, 0))
    return marks


def _vae_dims(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[torch.Tensor, int]]:
    return [(args[0] if args else kwargs["z"], 0)]


def marking_dynamic(
    compiled: Callable[..., Any], dims: Callable[..., list[tuple[torch.Tensor, int]]]
) -> Callable[..., Any]:
    """``compiled``, called after marking some of its inputs' dims dynamic (which has to happen
    outside the compiled code)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        for tensor, dim in dims(args, kwargs):
            torch._dynamo.maybe_mark_dynamic(tensor, dim)
        return compiled(*args, **kwargs)

    return call


class DynamicDims(torch.nn.Module):
    """The compiled UNet behind marking_dynamic, still a module whose config, dtype and
    submodules the pipelines read through to the original."""

    def __init__(self, compiled: torch.nn.Module, dims: Callable[..., list[tuple[torch.Tensor, int]]]) -> None:
        super().__init__()
        self.compiled = compiled
        self._call = marking_dynamic(compiled, dims)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.compiled, name)


# Graphs dynamo may keep per compiled function before it gives up and runs eagerly (default 8).
# The UNet has one per size and hires size (18); the VAE decoder also one per batch size once it
# decodes in slices, which loop over the batch. The warm-up makes them all, a bounded number.
RECOMPILE_LIMIT = 128


def prepare_compile(cache_dir: str) -> None:
    """Process-wide torch.compile settings, set once before compiling."""
    if cache_dir and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        # Inductor and Triton keep compiled kernels here; on a volume, a restart loads them
        # instead of compiling again (minutes per shape on first start, seconds after).
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.abspath(os.path.expanduser(cache_dir))
    import torch._dynamo.config as dynamo_config

    dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, RECOMPILE_LIMIT)
    dynamo_config.accumulated_recompile_limit = max(dynamo_config.accumulated_recompile_limit, 4 * RECOMPILE_LIMIT)
    # Only the dims DynamicDims marks are dynamic; without this dynamo would also make the
    # image size dynamic once a second size arrives, losing the per-size kernels.
    dynamo_config.automatic_dynamic_shapes = False
    # A compile after the warm-up means a member waited for it: say so in the log.
    torch._logging.set_logs(recompiles=True)


def set_vae_slicing(pipe: StableDiffusionXLPipeline, images: int, threshold: int) -> None:
    """Slice the VAE decode for big batches only: it saves memory and costs a little speed."""
    if images >= threshold:
        pipe.vae.enable_slicing()
    else:
        pipe.vae.disable_slicing()


def warm_up(run: Callable[[WarmupShape], object], shapes: list[WarmupShape]) -> str:
    """Run tiny generations so kernels (and compiled graphs) exist before the first member asks.
    ``run(shape)`` makes one short generation of that shape. Returns the log line."""
    started = time.perf_counter()
    for shape in shapes:
        run(shape)
    sizes = len({(s.width, s.height) for s in shapes if not s.hires})
    batches = sorted({s.batch for s in shapes if not s.hires})
    hires = sum(s.hires for s in shapes)
    return (
        f"warm-up done in {time.perf_counter() - started:.1f} s: ready for {sizes} size(s) x batch "
        f"{', '.join(map(str, batches))}" + (f" and the upscale of {hires} size(s)" if hires else "")
    )


def warmup_requests(shape: WarmupShape) -> list[GenerationRequest]:
    """Short requests of one warm-up shape, as the worker will see them (one step; two for the
    hires pass, whose img2img runs int(steps * 0.55) steps and needs at least one)."""
    rules = effective_rules(age_restricted=False, server=PolicySettings(), channel=PolicySettings())
    return [
        build_request(
            ImagineOptions(
                prompt="1girl, smile",
                aspect=f"{shape.width}x{shape.height}",
                steps=2 if shape.hires else 1,
                seed=seed,
                hires=shape.hires,
            ),
            limits=PromptLimits(),
            user_id=0,
            guild_id=None,
            channel_id=0,
            rules=rules,
        )
        for seed in range(shape.batch)
    ]
