"""Run one request through the pipeline, synchronously (call it from a worker thread)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from core.errors import JobCancelled
from generation.loader import LoadedModel
from generation.metadata import build_infotext, encode_png
from generation.request import GenerationRequest
from moderation.classifier import OutputClassifier, RatingScores

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class GenerationResult:
    png: bytes
    width: int
    height: int
    infotext: str
    seconds: float  # pipeline time, encoding included
    scores: RatingScores | None = None  # the output check's verdict, when one is configured


def make_generator(seed: int) -> torch.Generator:
    # Noise is drawn on the CPU so that a seed gives the same image on any GPU (and in
    # a batch or alone), as the official app's users expect when they share seeds.
    return torch.Generator(device="cpu").manual_seed(seed)


def run_request(
    model: LoadedModel,
    request: GenerationRequest,
    *,
    on_step: ProgressFn | None = None,
    is_cancelled: CancelledFn | None = None,
    classifier: OutputClassifier | None = None,
) -> GenerationResult:
    started = time.perf_counter()
    pipe = model.pipeline
    cancelled = False

    def step_end(pipeline: Any, step: int, _timestep: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        nonlocal cancelled
        if on_step is not None:
            on_step(step + 1, request.steps)
        if is_cancelled is not None and is_cancelled():
            cancelled = True
            # diffusers skips the remaining steps once the interrupt flag is set.
            pipeline._interrupt = True
        return kwargs

    with torch.inference_mode():
        # A1111-style weighted, chunked conditioning: stock diffusers would pass "(bad)" to
        # CLIP as characters and cut the prompt at 77 tokens.
        conditioning = model.encoder.encode(request.prompt, request.negative, device=model.device, dtype=model.dtype)
        output = pipe(
            **conditioning.as_pipeline_kwargs(),
            width=request.width,
            height=request.height,
            num_inference_steps=request.steps,
            guidance_scale=request.cfg,
            generator=make_generator(request.seed),
            callback_on_step_end=step_end,
        )
    if cancelled:
        raise JobCancelled()
    image = output.images[0]
    infotext = build_infotext(
        prompt=request.prompt,
        negative=request.negative,
        steps=request.steps,
        sampler=request.sampler,
        cfg=request.cfg,
        seed=request.seed,
        width=request.width,
        height=request.height,
        model_hash=model.short_hash,
        model_name=model.name,
    )
    png = encode_png(image, infotext)
    scores = classifier.classify(image) if classifier is not None else None
    return GenerationResult(png, image.width, image.height, infotext, time.perf_counter() - started, scores)
