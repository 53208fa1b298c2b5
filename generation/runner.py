"""Run one request through the pipeline, synchronously (call it from a worker thread)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from diffusers import StableDiffusionXLImg2ImgPipeline
from PIL.Image import Image

from core.errors import JobCancelled
from generation.loader import LoadedModel
from generation.metadata import build_infotext, encode_png
from generation.noise import draw_noise, prefetching
from generation.preview import latent_preview
from generation.speedups import set_vae_slicing
from jobs.model import GenerationResult, RenderedImage
from moderation.classifier import OutputClassifier
from prompt.request import HIRES_SCALE, HIRES_STRENGTH, GenerationRequest

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]
PreviewFn = Callable[[bytes], None]
WantPreviewFn = Callable[[], bool]


def make_generator(seed: int) -> torch.Generator:
    # Noise is drawn on the CPU so that a seed gives the same image on any GPU (and in
    # a batch or alone), as the official app's users expect when they share seeds.
    return torch.Generator(device="cpu").manual_seed(seed)


def hires_steps(request: GenerationRequest) -> int:
    """Denoising steps of the hires pass (diffusers' img2img runs int(steps * strength))."""
    return min(int(request.steps * HIRES_STRENGTH), request.steps) if request.hires else 0


def slerp(t: float, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between two noise tensors, as A1111's variation seeds use."""
    if t <= 0.0:
        return a
    if t >= 1.0:
        return b
    a_unit, b_unit = a / a.norm(), b / b.norm()
    dot = (a_unit * b_unit).sum().clamp(-1.0, 1.0)
    if dot.abs() > 0.9995:
        return (1 - t) * a + t * b
    omega = torch.acos(dot)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / math.sin(float(omega))


def initial_noise(
    model: LoadedModel, request: GenerationRequest, generators: list[torch.Generator]
) -> torch.Tensor | None:
    """Noise mixed with a variation seed's, or None to let the pipeline draw it from the seeds.

    The base noise is drawn from the same generators the pipeline then uses for Euler a's
    per-step noise, exactly as diffusers would, so strength 0 is the plain seed's image."""
    if request.variation_seed is None:
        return None
    pipe = model.pipeline
    scale = pipe.vae_scale_factor
    shape = (1, pipe.unet.config.in_channels, request.height // scale, request.width // scale)
    samples = []
    for i, generator in enumerate(generators):
        base = torch.randn(shape, generator=generator, dtype=model.dtype)
        other = torch.randn(shape, generator=make_generator(request.variation_seed + i), dtype=model.dtype)
        samples.append(slerp(request.variation_strength, base.float(), other.float()).to(model.dtype))
    return torch.cat(samples)


@contextmanager
def noise_for(
    model: LoadedModel,
    generators: list[torch.Generator],
    *,
    width: int,
    height: int,
    steps: int,
    initial: torch.Tensor | None,
) -> Iterator[torch.Tensor | None]:
    """The ``latents`` to pass the pipeline for this call. With our Euler a every step's noise
    is drawn here, before the loop, and loaded into the scheduler (no host-device sync per
    step); with any other scheduler the pipeline draws as stock diffusers does."""
    scheduler = prefetching(model.pipeline.scheduler)
    if scheduler is None:
        yield initial
        return
    pipe = model.pipeline
    shape = (pipe.unet.config.in_channels, height // pipe.vae_scale_factor, width // pipe.vae_scale_factor)
    latents, noise = draw_noise(generators, shape, steps, model.dtype, model.device, initial)
    with scheduler.noise(noise):
        yield latents


def _infotext(model: LoadedModel, request: GenerationRequest, index: int) -> str:
    extra: list[tuple[str, str]] = []
    if request.variation_seed is not None:
        extra += [
            ("Variation seed", str(request.variation_seed + index)),
            ("Variation seed strength", f"{request.variation_strength:g}"),
        ]
    if request.hires:
        extra += [
            ("Denoising strength", f"{HIRES_STRENGTH:g}"),
            ("Hires upscale", f"{HIRES_SCALE:g}"),
            ("Hires upscaler", "Latent (nearest-exact)"),
        ]
    return build_infotext(
        prompt=request.prompt,
        negative=request.negative,
        steps=request.steps,
        sampler=request.sampler,
        cfg=request.cfg,
        seed=request.seeds[index],
        width=request.width,
        height=request.height,
        model_hash=model.short_hash,
        model_name=model.name,
        extra=extra,
    )


@dataclass
class StepHook:
    """diffusers' ``callback_on_step_end`` for one run: progress (counted across passes),
    previews when one is wanted, and the interrupt flag once the job is cancelled."""

    total: int
    on_step: ProgressFn | None
    is_cancelled: CancelledFn | None
    want_preview: WantPreviewFn | None
    on_preview: PreviewFn | None
    done_before: int = 0  # steps of earlier passes, so progress counts across the hires pass
    cancelled: bool = False

    def __call__(self, pipeline: Any, step: int, _timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.on_step is not None:
            self.on_step(self.done_before + step + 1, self.total)
        preview = self.on_preview
        if preview is not None and self.want_preview is not None and self.want_preview() and "latents" in kwargs:
            preview(latent_preview(kwargs["latents"]))
        if self.is_cancelled is not None and self.is_cancelled():
            self.cancelled = True
            # diffusers skips the remaining steps once the interrupt flag is set.
            pipeline._interrupt = True
        return kwargs


def _render(
    model: LoadedModel, request: GenerationRequest, pictures: Sequence[Image], classifier: OutputClassifier | None
) -> tuple[RenderedImage, ...]:
    """The request's PNGs, with their metadata and the output check's verdict."""
    images = []
    for index, picture in enumerate(pictures):
        infotext = _infotext(model, request, index)
        scores = classifier.classify(picture) if classifier is not None else None
        png = encode_png(picture, infotext)
        images.append(RenderedImage(png, picture.width, picture.height, request.seeds[index], infotext, scores))
    return tuple(images)


def run_request(
    model: LoadedModel,
    request: GenerationRequest,
    *,
    on_step: ProgressFn | None = None,
    is_cancelled: CancelledFn | None = None,
    classifier: OutputClassifier | None = None,
    want_preview: WantPreviewFn | None = None,
    on_preview: PreviewFn | None = None,
) -> GenerationResult:
    started = time.perf_counter()
    pipe = model.pipeline
    step_end = StepHook(request.steps + hires_steps(request), on_step, is_cancelled, want_preview, on_preview)
    seeds = request.seeds
    set_vae_slicing(pipe, request.count, model.vae_slicing_from)
    generators = [make_generator(s) for s in seeds]
    initial = initial_noise(model, request, generators)
    with torch.inference_mode():
        # A1111-style weighted, chunked conditioning: stock diffusers would pass "(bad)" to
        # CLIP as characters and cut the prompt at 77 tokens.
        conditioning = model.encoder.encode(request.prompt, request.negative, device=model.device, dtype=model.dtype)
        with noise_for(
            model, generators, width=request.width, height=request.height, steps=request.steps, initial=initial
        ) as latents:
            output = pipe(
                **conditioning.as_pipeline_kwargs(),
                width=request.width,
                height=request.height,
                num_inference_steps=request.steps,
                guidance_scale=request.cfg,
                num_images_per_prompt=request.count,
                # A list gives each image its own seed; one image keeps the stock single-generator call.
                generator=generators[0] if len(generators) == 1 else generators,
                latents=latents,
                output_type="latent" if request.hires else "pil",
                callback_on_step_end=step_end,
            )
        if request.hires and not step_end.cancelled:
            step_end.done_before = request.steps
            # The official app's hires pass: the same components (no second copy of the
            # weights), latents enlarged, then img2img with the same prompt, steps, CFG, seed.
            upscaler = StableDiffusionXLImg2ImgPipeline(**pipe.components)
            upscaler.set_progress_bar_config(disable=True)
            latents = torch.nn.functional.interpolate(output.images, scale_factor=HIRES_SCALE, mode="nearest-exact")
            output = upscaler(
                **conditioning.as_pipeline_kwargs(),
                image=latents,
                strength=HIRES_STRENGTH,
                num_inference_steps=request.steps,
                guidance_scale=request.cfg,
                generator=make_generator(seeds[0]),
                callback_on_step_end=step_end,
            )
    if step_end.cancelled:
        raise JobCancelled()
    return GenerationResult(_render(model, request, output.images, classifier), time.perf_counter() - started)


def batch_key(model: LoadedModel, request: GenerationRequest) -> tuple[object, ...] | None:
    """Requests with equal keys can share one pipeline call; None means "run it alone"."""
    if request.hires or request.variation_seed is not None:
        return None
    length = model.encoder.length(request.prompt, request.negative)
    return (request.width, request.height, request.steps, request.cfg, request.sampler, length)


def run_batch(
    model: LoadedModel,
    requests: Sequence[GenerationRequest],
    *,
    on_step: ProgressFn | None = None,
    is_cancelled: CancelledFn | None = None,
    classifier: OutputClassifier | None = None,
    want_preview: WantPreviewFn | None = None,
    on_preview: PreviewFn | None = None,
) -> list[GenerationResult]:
    """Several requests with the same batch_key in one pipeline call. Each image keeps its own
    CPU generator and its own conditioning, so it is the image its request makes alone."""
    if len(requests) == 1:
        return [
            run_request(
                model,
                requests[0],
                on_step=on_step,
                is_cancelled=is_cancelled,
                classifier=classifier,
                want_preview=want_preview,
                on_preview=on_preview,
            )
        ]
    started = time.perf_counter()
    first = requests[0]
    step_end = StepHook(first.steps, on_step, is_cancelled, want_preview, on_preview)
    set_vae_slicing(model.pipeline, sum(r.count for r in requests), model.vae_slicing_from)
    with torch.inference_mode():
        parts: dict[str, list[torch.Tensor]] = {}
        generators: list[torch.Generator] = []
        for request in requests:
            conditioning = model.encoder.encode(
                request.prompt, request.negative, device=model.device, dtype=model.dtype
            ).as_pipeline_kwargs()
            for name, tensor in conditioning.items():
                parts.setdefault(name, []).extend([tensor] * request.count)
            generators.extend(make_generator(seed) for seed in request.seeds)
        with noise_for(
            model, generators, width=first.width, height=first.height, steps=first.steps, initial=None
        ) as latents:
            output = model.pipeline(
                **{name: torch.cat(tensors) for name, tensors in parts.items()},
                width=first.width,
                height=first.height,
                num_inference_steps=first.steps,
                guidance_scale=first.cfg,
                generator=generators,
                latents=latents,
                callback_on_step_end=step_end,
            )
    if step_end.cancelled:
        raise JobCancelled()
    seconds = time.perf_counter() - started
    pictures: list[Image] = list(output.images)
    results = []
    for request in requests:
        mine, pictures = pictures[: request.count], pictures[request.count :]
        results.append(GenerationResult(_render(model, request, mine, classifier), seconds))
    return results
