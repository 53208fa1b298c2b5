"""Load the SDXL pipeline from a Hub repo id, a local diffusers folder or a single file.

Runs in a worker thread (it reads gigabytes); nothing here touches the event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, StableDiffusionXLPipeline

from core.config import ModelConfig
from core.errors import ModelLoadError
from generation.conditioning import PromptEncoder
from generation.metadata import file_short_hash
from generation.noise import PrefetchedEulerAncestral
from generation.sources import SINGLE_FILE_SUFFIXES, SourceKind, classify_source
from generation.speedups import apply_speedups, enabled

log = logging.getLogger(__name__)

# The character limit ([generation] max_prompt_chars) is the setting members see; this
# token-chunk ceiling only guards the encoder against pathological prompts (1 token per char).
MAX_PROMPT_CHUNKS = 32
# The SDXL VAE finetuned not to overflow in float16 (the official Animagine app loads it), so
# the decode needs no float32 upcast.
FP16_SAFE_VAE = "madebyollin/sdxl-vae-fp16-fix"
_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}


@dataclass(frozen=True, slots=True)
class LoadedModel:
    pipeline: StableDiffusionXLPipeline
    device: torch.device
    dtype: torch.dtype
    source_kind: SourceKind
    name: str
    short_hash: str | None
    encoder: PromptEncoder
    speedups: tuple[str, ...] = ()  # what apply_speedups turned on
    warmup: bool = False  # run warm-up generations before taking jobs
    vae_slicing_from: int = 4


def resolve_device(setting: str) -> torch.device:
    if setting == "cuda" or (setting == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ModelLoadError("[model] device = 'cuda' but PyTorch sees no CUDA GPU")
        return torch.device("cuda")
    return torch.device("cpu")


def resolve_dtype(setting: str, device: torch.device) -> torch.dtype:
    if setting != "auto":
        dtype = _DTYPES[setting]
        if device.type == "cpu" and dtype == torch.float16:
            # Half-precision convolutions are slow or missing on CPU; refuse loudly rather
            # than make a member wait minutes for a black image.
            raise ModelLoadError("[model] dtype = 'float16' is not supported on the CPU; use float32 or auto")
        return dtype
    return torch.float16 if device.type == "cuda" else torch.float32


def resolve_vae(setting: str, device: torch.device, dtype: torch.dtype) -> str:
    """The separate VAE to load, or "" for the model's own."""
    if setting != "auto":
        return setting
    return FP16_SAFE_VAE if device.type == "cuda" and dtype == torch.float16 else ""


def check_model_config(config: ModelConfig) -> None:
    """The cheap checks of load_pipeline, run at start-up so that a typo stops the bot at
    once instead of failing every job after it connected."""
    classify_source(config.source)
    resolve_dtype(config.dtype, resolve_device(config.device))
    for key, value in (("vae", config.vae), ("single_file_config", config.single_file_config)):
        looks_local = value.startswith(("/", ".", "~")) or value.endswith(SINGLE_FILE_SUFFIXES)
        if value and looks_local and not Path(value).expanduser().exists():
            raise ModelLoadError(f"[model] {key} {value!r} does not exist")


def _load_vae(source: str, dtype: torch.dtype, cache_dir: str | None) -> AutoencoderKL:
    path = Path(source).expanduser()
    if path.is_file():
        return AutoencoderKL.from_single_file(str(path), dtype=dtype)
    if path.is_dir():
        return AutoencoderKL.from_pretrained(str(path), dtype=dtype)
    return AutoencoderKL.from_pretrained(source, dtype=dtype, cache_dir=cache_dir)


def _load_configured_vae(config: ModelConfig, device: torch.device, dtype: torch.dtype) -> AutoencoderKL | None:
    """The separate VAE of ``[model] vae`` (or its "auto" choice), or None for the model's own."""
    vae_source = resolve_vae(config.vae, device, dtype)
    if not vae_source:
        return None
    try:
        return _load_vae(vae_source, dtype, config.cache_dir or None)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"could not load [model] vae {vae_source!r}: {exc}. Set [model] vae to a local copy, "
            'or to "" to use the model\'s own VAE (slower in float16: it is upcast to float32)'
        ) from exc


def _load_from_source(
    config: ModelConfig, kind: SourceKind, dtype: torch.dtype, extra: dict[str, object]
) -> StableDiffusionXLPipeline:
    """The pipeline from the source ``kind`` names, on the CPU, in ``dtype``."""
    try:
        if kind is SourceKind.SINGLE_FILE:
            if config.single_file_config:
                extra["config"] = config.single_file_config
            return StableDiffusionXLPipeline.from_single_file(
                str(Path(config.source).expanduser()), dtype=dtype, **extra
            )
        source = str(Path(config.source).expanduser()) if kind is SourceKind.FOLDER else config.source
        return StableDiffusionXLPipeline.from_pretrained(
            source, dtype=dtype, use_safetensors=True, add_watermarker=False, **extra
        )
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load [model] source {config.source!r}: {exc}") from exc


def _prepare_pipeline(
    pipeline: StableDiffusionXLPipeline,
    config: ModelConfig,
    device: torch.device,
    dtype: torch.dtype,
    *,
    separate_vae: bool,
) -> list[str]:
    """Scheduler, VAE config, device and speed-ups; returns what apply_speedups turned on."""
    # Euler a, with its per-step noise drawn before the loop (generation/noise.py).
    pipeline.scheduler = PrefetchedEulerAncestral.from_config(pipeline.scheduler.config)
    if separate_vae and dtype == torch.float16:
        # The configured VAE is the fp16-safe one (e.g. madebyollin/sdxl-vae-fp16-fix):
        # the fp32 upcast diffusers does for the stock SDXL VAE would only waste time and memory.
        pipeline.vae.config.force_upcast = False
    pipeline.to(device)
    pipeline.set_progress_bar_config(disable=True)
    return apply_speedups(pipeline, config, device)


def _short_hash(config: ModelConfig, kind: SourceKind) -> str | None:
    short_hash = config.hash or None
    if short_hash is None and kind is SourceKind.SINGLE_FILE:
        short_hash = file_short_hash(Path(config.source).expanduser())
    return short_hash


def adopt_library_logs() -> None:
    """diffusers and transformers write through handlers of their own (plain text, whatever
    [logging] format says) and draw progress bars while reading weights from disk: their lines
    go through the process's handler instead, and the bars go."""
    import transformers.utils.logging
    from diffusers.utils import logging as diffusers_logging

    for library in (diffusers_logging, transformers.utils.logging):
        library.disable_default_handler()
        library.enable_propagation()
        library.disable_progress_bar()


def load_pipeline(config: ModelConfig) -> LoadedModel:
    """Load the pipeline onto its device with Euler a as the scheduler."""
    adopt_library_logs()
    kind = classify_source(config.source)
    device = resolve_device(config.device)
    dtype = resolve_dtype(config.dtype, device)
    log.info("loading %s from %s %r on %s as %s", config.name, kind.value, config.source, device, dtype)
    extra: dict[str, object] = {}
    if config.cache_dir:
        extra["cache_dir"] = config.cache_dir
    vae = _load_configured_vae(config, device, dtype)
    if vae is not None:
        extra["vae"] = vae
    pipeline = _load_from_source(config, kind, dtype, extra)
    speedups = _prepare_pipeline(pipeline, config, device, dtype, separate_vae=vae is not None)

    short_hash = _short_hash(config, kind)
    encoder = PromptEncoder.from_pipeline(pipeline, max_chunks=MAX_PROMPT_CHUNKS)
    return LoadedModel(
        pipeline,
        device,
        dtype,
        kind,
        config.name,
        short_hash,
        encoder,
        speedups=tuple(speedups),
        # Compiled graphs must exist before a member asks: "auto" warms up whenever compiling.
        warmup=enabled(config.warmup, device) or (config.compile == "on" and config.warmup == "auto"),
        vae_slicing_from=config.vae_slicing_from,
    )
