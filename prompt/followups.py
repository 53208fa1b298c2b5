"""What the result buttons ask for, as /imagine options derived from the stored request."""

from __future__ import annotations

import secrets

from core.errors import InvalidOption
from core.text import t
from prompt.options import (
    MAX_SEED,
    RANDOM_SEED_MAX,
    ImagineOptions,
)
from prompt.request import GenerationRequest

# A1111's "variation seed" mixes a little of another seed's noise into the image's own: the
# composition stays, details change. 0.15 keeps it recognisably the same picture.
VARIATION_STRENGTH = 0.15


def _image(request: GenerationRequest, index: int) -> int:
    if not 0 <= index < request.count:
        raise InvalidOption(
            "index",
            t("This result has {count} image(s); there is no image {number}.", count=request.count, number=index + 1),
        )
    return request.seeds[index]


def reroll(request: GenerationRequest) -> ImagineOptions:
    """Same request, new seed(s)."""
    return request.options(seed=None, variation_seed=None, variation_strength=0.0, hires=False)


def variation(request: GenerationRequest, index: int) -> ImagineOptions:
    """Image ``index``'s seed with a new variation seed mixed in at VARIATION_STRENGTH."""
    return request.options(
        seed=_image(request, index),
        count=1,
        variation_seed=secrets.randbelow(RANDOM_SEED_MAX + 1),
        variation_strength=VARIATION_STRENGTH,
        hires=False,
    )


def upscale(request: GenerationRequest, index: int) -> ImagineOptions:
    """Image ``index`` again, through the hires pass (same prompt, steps, CFG, seed)."""
    if request.hires:
        raise InvalidOption("index", t("This image is already upscaled."))
    seed = _image(request, index)
    variation_seed = (request.variation_seed + index) % (MAX_SEED + 1) if request.variation_seed is not None else None
    return request.options(seed=seed, count=1, variation_seed=variation_seed, hires=True)
