"""``run``: one request, or a batch of compatible ones, through the pipeline in numbered stages,
synchronously (call it from a worker thread)."""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from diffusers import StableDiffusionXLImg2ImgPipeline
from PIL import Image as PILImage
from PIL.Image import Image

from core.errors import JobCancelled
from generation.loader import LoadedModel
from generation.metadata import build_infotext, encode_png
from generation.noise import draw_noise, prefetching
from generation.preview import latent_preview
from generation.speedups import set_vae_slicing
from jobs.model import GenerationResult, RenderedImage
from moderation.classifier import OutputClassifier
from prompt.options import (
    HIRES_SCALE,
    HIRES_STRENGTH,
)
from prompt.request import GenerationRequest

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]
PreviewFn = Callable[[bytes], None]
WantPreviewFn = Callable[[], bool]


class MissingImages(RuntimeError):
    """Fewer images than asked for: the worker reports it as any failed generation."""


def make_generator(seed: int) -> torch.Generator:
    # Noise is drawn on the CPU so that a seed gives the same image on any GPU (and in
    # a batch or alone), as the official app's users expect when they share seeds.
    return torch.Generator(device="cpu").manual_seed(seed)


def img2img_schedule(steps: int, strength: float) -> int:
    """The ``num_inference_steps`` to give diffusers' img2img so that it runs at least one step.

    It runs int(steps * strength) (StableDiffusionXLImg2ImgPipeline.get_timesteps): an Upscale
    of a 1-step image would run none and return no image. Lengthening the schedule beats
    refusing an image the member has; it is what A1111's "Hires steps: 2" runs."""
    if strength <= 0:
        raise ValueError(f"an img2img strength must be above 0; got {strength}")
    schedule = steps
    while int(schedule * strength) < 1:  # the same float arithmetic as diffusers'
        schedule += 1
    return schedule


def hires_steps(request: GenerationRequest) -> int:
    """Denoising steps the hires pass really runs (at least one)."""
    if not request.hires:
        return 0
    schedule = img2img_schedule(request.steps, HIRES_STRENGTH)
    return min(int(schedule * HIRES_STRENGTH), schedule)


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
    if request.source is not None:
        # What A1111 (and Civitai, reading it) take as the mark of an img2img image.
        extra.append(("Denoising strength", f"{request.strength:g}"))
    if request.hires:
        extra += [
            *([] if request.source is not None else [("Denoising strength", f"{HIRES_STRENGTH:g}")]),
            ("Hires upscale", f"{HIRES_SCALE:g}"),
            ("Hires upscaler", "Latent (nearest-exact)"),
        ]
        schedule = img2img_schedule(request.steps, HIRES_STRENGTH)
        if schedule != request.steps:  # A1111 reads it as the hires pass's own step count
            extra.append(("Hires steps", str(schedule)))
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


@dataclass(frozen=True, slots=True)
class RunControl:
    """How a caller steers a run, read from the pipeline's thread at every step: progress, the
    cancel flag, and previews (made only when one is wanted)."""

    on_step: ProgressFn | None = None
    is_cancelled: CancelledFn | None = None
    want_preview: WantPreviewFn | None = None
    on_preview: PreviewFn | None = None


NO_CONTROL = RunControl()


@dataclass
class StepHook:
    """diffusers' ``callback_on_step_end`` for one run: progress (counted across passes),
    previews when one is wanted, and the interrupt flag once the job is cancelled."""

    total: int
    control: RunControl
    done_before: int = 0  # steps of earlier passes, so progress counts across the hires pass
    cancelled: bool = False

    def __call__(self, pipeline: Any, step: int, _timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        control = self.control
        if control.on_step is not None:
            control.on_step(self.done_before + step + 1, self.total)
        preview = control.on_preview
        if preview is not None and control.want_preview is not None and control.want_preview() and "latents" in kwargs:
            preview(latent_preview(kwargs["latents"]))
        if control.is_cancelled is not None and control.is_cancelled():
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


def batch_key(model: LoadedModel, request: GenerationRequest) -> tuple[object, ...] | None:
    """Requests with equal keys can share one pipeline call; None means "run it alone"."""
    traits = request.batch_traits()
    if traits is None:
        return None
    return (*traits, model.encoder.length(request.prompt, request.negative))


def _check_batch(model: LoadedModel, requests: Sequence[GenerationRequest]) -> GenerationRequest:
    if not requests:
        raise ValueError("run() needs at least one request")
    first = requests[0]
    if len(requests) > 1:
        key = batch_key(model, first)
        if key is None or any(batch_key(model, other) != key for other in requests[1:]):
            raise ValueError(
                "these requests cannot share a pipeline call: a batch needs the same size, steps, CFG, "
                "sampler and prompt-chunk count, and no hires pass or variation seed (see batch_key)"
            )
    return first


def _conditioning(model: LoadedModel, requests: Sequence[GenerationRequest]) -> dict[str, torch.Tensor]:
    """A1111-style weighted, chunked conditioning (stock diffusers would pass "(bad)" to CLIP as
    characters and cut the prompt at 77 tokens), one row per image of the call."""
    encoded = [
        model.encoder.encode(r.prompt, r.negative, device=model.device, dtype=model.dtype).as_pipeline_kwargs()
        for r in requests
    ]
    if len(encoded) == 1:  # the pipeline repeats it for `count` itself (num_images_per_prompt)
        return encoded[0]
    parts: dict[str, list[torch.Tensor]] = {}
    for request, kwargs in zip(requests, encoded, strict=True):
        for name, tensor in kwargs.items():
            parts.setdefault(name, []).extend([tensor] * request.count)
    return {name: torch.cat(tensors) for name, tensors in parts.items()}


def _hires_pass(
    model: LoadedModel,
    request: GenerationRequest,
    latents: torch.Tensor,
    conditioning: dict[str, torch.Tensor],
    step_end: StepHook,
) -> Any:
    """The official app's hires pass: the same components (no second copy of the weights),
    latents enlarged, then img2img with the same prompt, steps, CFG and seed."""
    step_end.done_before = request.denoising_steps
    upscaler = StableDiffusionXLImg2ImgPipeline(**model.pipeline.components)
    upscaler.set_progress_bar_config(disable=True)
    enlarged = torch.nn.functional.interpolate(latents, scale_factor=HIRES_SCALE, mode="nearest-exact")
    return upscaler(
        **conditioning,
        image=enlarged,
        strength=HIRES_STRENGTH,
        num_inference_steps=img2img_schedule(request.steps, HIRES_STRENGTH),
        guidance_scale=request.cfg,
        generator=make_generator(request.seeds[0]),
        callback_on_step_end=step_end,
    )


def source_pictures(requests: Sequence[GenerationRequest], sources: Mapping[str, bytes]) -> list[Image]:
    """One source picture per image of the call (a request's ``count`` repeats its source)."""
    pictures: list[Image] = []
    for request in requests:
        png = sources.get(request.source or "")
        if png is None:
            raise ValueError(f"the source image {request.source} of a remix was not given to run()")
        picture = PILImage.open(io.BytesIO(png)).convert("RGB")
        if picture.size != (request.width, request.height):
            raise ValueError(
                f"a remix's source image must be fitted to {request.size} first (prompt.images.fit_image); "
                f"got {picture.width}x{picture.height}"
            )
        pictures.extend([picture] * request.count)
    return pictures


def _remix_pass(
    model: LoadedModel,
    requests: Sequence[GenerationRequest],
    sources: Mapping[str, bytes],
    conditioning: dict[str, torch.Tensor],
    generators: list[torch.Generator],
    step_end: StepHook,
) -> Any:
    """Remix: SDXL img2img built on the same components (no second copy of the weights). The
    VAE encodes each source with its image's generator, which then draws that image's noise, so
    a seed gives the same image alone and in a batch."""
    first, alone = requests[0], len(requests) == 1
    remixer = StableDiffusionXLImg2ImgPipeline(**model.pipeline.components)
    remixer.set_progress_bar_config(disable=True)
    pictures = source_pictures(requests, sources)
    return remixer(
        **conditioning,
        image=pictures[:1] if alone else pictures,
        strength=first.strength,
        num_inference_steps=first.steps,
        guidance_scale=first.cfg,
        num_images_per_prompt=first.count if alone else 1,
        generator=generators[0] if len(generators) == 1 else generators,
        output_type="latent" if first.hires else "pil",
        callback_on_step_end=step_end,
    )


def _first_pass(
    model: LoadedModel,
    requests: Sequence[GenerationRequest],
    conditioning: dict[str, torch.Tensor],
    generators: list[torch.Generator],
    step_end: StepHook,
) -> Any:
    """Text to image, with every step's noise drawn before the loop."""
    first, alone = requests[0], len(requests) == 1
    initial = initial_noise(model, first, generators) if alone else None
    with noise_for(
        model, generators, width=first.width, height=first.height, steps=first.steps, initial=initial
    ) as latents:
        return model.pipeline(
            **conditioning,
            width=first.width,
            height=first.height,
            num_inference_steps=first.steps,
            guidance_scale=first.cfg,
            num_images_per_prompt=first.count if alone else 1,
            # One image keeps the stock single-generator call.
            generator=generators[0] if len(generators) == 1 else generators,
            latents=latents,
            output_type="latent" if first.hires else "pil",
            callback_on_step_end=step_end,
        )


def run(
    model: LoadedModel,
    requests: Sequence[GenerationRequest],
    control: RunControl = NO_CONTROL,
    *,
    classifier: OutputClassifier | None = None,
    sources: Mapping[str, bytes] | None = None,
) -> list[GenerationResult]:
    """Make the images of one request, or of several that share a ``batch_key``, in one
    pipeline call. Each image keeps its own CPU generator and its own conditioning, so it is
    the image its request makes alone. Synchronous: call it from the worker thread."""
    started = time.perf_counter()
    # 1. Check that the requests can share one call.
    first = _check_batch(model, requests)
    step_end = StepHook(first.denoising_steps + hires_steps(first), control)
    # 2. Seeds: one CPU generator per image (and a variation seed's noise, only alone).
    generators = [make_generator(seed) for request in requests for seed in request.seeds]
    set_vae_slicing(model.pipeline, len(generators), model.vae_slicing_from)
    with torch.inference_mode():
        # 3. Encode the prompts.
        conditioning = _conditioning(model, requests)
        # 4. Denoise: from noise, or a remix from the member's image.
        if first.source is not None:
            output = _remix_pass(model, requests, sources or {}, conditioning, generators, step_end)
        else:
            output = _first_pass(model, requests, conditioning, generators, step_end)
        # 5. The hires pass (Upscale), on one image made alone.
        if first.hires and not step_end.cancelled:
            output = _hires_pass(model, first, output.images, conditioning, step_end)
    if step_end.cancelled:
        raise JobCancelled()
    # 6. PNGs with their metadata (and the output check's verdict), split back per request.
    pictures: list[Image] = list(output.images)
    wanted = sum(request.count for request in requests)
    if len(pictures) != wanted:
        # e.g. an img2img pass of zero steps: a generation failure, not an empty result.
        raise MissingImages(f"the pipeline returned {len(pictures)} image(s) instead of {wanted}")
    rendered = []
    for request in requests:
        mine, pictures = pictures[: request.count], pictures[request.count :]
        rendered.append(_render(model, request, mine, classifier))
    seconds = time.perf_counter() - started
    return [GenerationResult(images, seconds) for images in rendered]


def run_request(
    model: LoadedModel,
    request: GenerationRequest,
    control: RunControl = NO_CONTROL,
    *,
    classifier: OutputClassifier | None = None,
    source_png: bytes | None = None,
) -> GenerationResult:
    """``run`` for one request (a convenience for callers that have one)."""
    sources = {request.source: source_png} if request.source is not None and source_png is not None else None
    return run(model, [request], control, classifier=classifier, sources=sources)[0]
