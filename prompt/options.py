"""What a member asks for, before validation: the /imagine options, the limits they are held
to, and the checks each must pass (in order: the member hears of the first problem only)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from core.errors import InvalidOption
from core.text import Text, t
from prompt.assembly import AESTHETIC_TAGS, YEAR_TAGS
from prompt.presets import (
    DEFAULT_QUALITY,
    DEFAULT_RESOLUTION,
    DEFAULT_STYLE,
    QUALITY_PRESETS,
    RESOLUTIONS_BY_KEY,
    STYLE_PRESETS,
)
from prompt.ratings import Rating

SAMPLER = "Euler a"
MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 1, 50, 28
MIN_CFG, MAX_CFG, DEFAULT_CFG = 1.0, 12.0, 7.0
MAX_SEED = 2**32 - 1
# The official demo app draws random seeds from this range; we do the same so that seeds
# shared between its users and ours look alike.
RANDOM_SEED_MAX = 2147483647
MAX_COUNT = 4
# The official app's hires pass ("Upscale"): latents enlarged 1.5x, then img2img at 0.55.
HIRES_SCALE = 1.5
HIRES_STRENGTH = 0.55
# Remix (img2img from a member's image): the official hires strength is the default, as a
# middle ground that keeps the picture's layout and still follows the new tags.
MIN_STRENGTH, MAX_STRENGTH, DEFAULT_STRENGTH = 0.05, 1.0, HIRES_STRENGTH


class RatingRules(Protocol):
    """What the validator needs of a channel's rating rules (``moderation.policy.ChannelRules``).

    A protocol rather than an import: the prompt engine sits above moderation and never calls
    back up into it; the caller hands in the rules it already looked up.
    """

    @property
    def allows_sexual(self) -> bool: ...

    def choose(self, requested: Rating | None) -> Rating:
        """The applied rating, or ValueError with a member-facing message."""
        ...


class TokenBudget(Protocol):
    """The model's token limit (``generation.worker.GenerationWorker``).

    A protocol for the same reason as RatingRules: counting tokens needs the model's tokenizer,
    and the prompt engine stays pure Python; the caller hands in what can count them.
    """

    def check_tokens(self, prompt: str, negative: str) -> None:
        """Raise ``PromptTooLong`` with a member-facing message naming the limit when the final
        prompt or negative has more tokens than the text encoder takes; return otherwise."""
        ...


@dataclass(frozen=True, slots=True)
class PromptLimits:
    max_prompt_chars: int = 1500
    max_negative_chars: int = 1500
    # None: no token check here (tests, benchmarks, warm-up); the encoder still refuses at run
    # time. A live object, not a setting: left out of equality, hashing and repr.
    tokens: TokenBudget | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ImagineOptions:
    """What the member typed, before validation (also what `/imagine` options map to)."""

    prompt: str
    negative: str = ""
    aspect: str = DEFAULT_RESOLUTION
    seed: int | None = None
    steps: int = DEFAULT_STEPS
    cfg: float = DEFAULT_CFG
    quality: str = DEFAULT_QUALITY
    style: str = DEFAULT_STYLE
    rating: str | None = None  # a Rating label; None = the channel's default
    year: str | None = None
    aesthetic: str | None = None
    count: int = 1  # images in one request, on consecutive seeds
    # Set by the result buttons, not by /imagine: A1111's variation seed, and the hires pass.
    variation_seed: int | None = None
    variation_strength: float = 0.0
    hires: bool = False
    # Remix: the digest of the fitted source image (prompt.images.SourceImage) and how much of
    # it is redrawn. The aspect is then the source's fitted size.
    source: str | None = None
    strength: float = DEFAULT_STRENGTH


def remix_steps(steps: int, strength: float) -> int:
    return min(int(steps * strength), steps)


def clean_text(text: str) -> str:
    # Discord clients can send newlines and NULs; CLIP needs neither, and the A1111
    # metadata format is line based.
    return " ".join(text.replace("\x00", " ").split())


# A failed check: (option name, member-facing message).
_Problem = tuple[str, Text]


def _check_prompt(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    prompt = clean_text(options.prompt)
    if not prompt.strip(" ,"):
        return "prompt", t("The prompt is empty. Write some Danbooru tags, e.g. `1girl, long hair, smile`.")
    if len(prompt) > limits.max_prompt_chars:
        return "prompt", t(
            "The prompt is {length} characters long; the limit is {limit}.",
            length=len(prompt),
            limit=limits.max_prompt_chars,
        )
    return None


def _check_negative(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    negative = clean_text(options.negative)
    if len(negative) > limits.max_negative_chars:
        return (
            "negative",
            t(
                "The negative prompt is {length} characters long; the limit is {limit}.",
                length=len(negative),
                limit=limits.max_negative_chars,
            ),
        )
    return None


def _check_aspect(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.aspect not in RESOLUTIONS_BY_KEY:
        allowed = ", ".join(RESOLUTIONS_BY_KEY)
        return "aspect", t(
            "Unknown aspect `{aspect}`. Allowed sizes: {allowed}.", aspect=options.aspect, allowed=allowed
        )
    return None


def _check_steps(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if not MIN_STEPS <= options.steps <= MAX_STEPS:
        return "steps", t(
            "Steps must be between {low} and {high}; got {got}.", low=MIN_STEPS, high=MAX_STEPS, got=options.steps
        )
    return None


def _check_cfg(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if not MIN_CFG <= options.cfg <= MAX_CFG:
        return "cfg", t(
            "CFG must be between {low} and {high}; got {got}.",
            low=f"{MIN_CFG:g}",
            high=f"{MAX_CFG:g}",
            got=f"{options.cfg:g}",
        )
    return None


def _check_seed(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.seed is not None and not 0 <= options.seed <= MAX_SEED:
        return "seed", t("The seed must be between 0 and {high}; got {got}.", high=MAX_SEED, got=options.seed)
    return None


def _check_presets(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.quality not in QUALITY_PRESETS:
        return "quality", t("Unknown quality preset. Allowed: {allowed}.", allowed=", ".join(QUALITY_PRESETS))
    if options.style not in STYLE_PRESETS:
        return "style", t("Unknown style preset. Allowed: {allowed}.", allowed=", ".join(STYLE_PRESETS))
    return None


def _check_tags(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.year is not None and options.year not in YEAR_TAGS:
        return "year", t("Unknown year tag. Allowed: {allowed}.", allowed=", ".join(YEAR_TAGS))
    if options.aesthetic is not None and options.aesthetic not in AESTHETIC_TAGS:
        return "aesthetic", t("Unknown aesthetic tag. Allowed: {allowed}.", allowed=", ".join(AESTHETIC_TAGS))
    return None


def _check_count(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if not 1 <= options.count <= MAX_COUNT:
        return "count", t("Count must be between 1 and {high}; got {got}.", high=MAX_COUNT, got=options.count)
    return None


def _check_variation(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.variation_seed is not None and not 0 <= options.variation_seed <= MAX_SEED:
        return "variation_seed", t("The variation seed must be between 0 and {high}.", high=MAX_SEED)
    if not 0.0 <= options.variation_strength <= 1.0:
        return "variation_strength", t("The variation strength must be between 0 and 1.")
    return None


def _check_hires(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.hires and options.count != 1:
        return "count", t("Upscaling works on one image at a time.")
    return None


def _check_remix(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.source is None:
        return None
    if not MIN_STRENGTH <= options.strength <= MAX_STRENGTH:
        return "strength", t(
            "Strength must be between {low} and {high}; got {got}.",
            low=f"{MIN_STRENGTH:g}",
            high=f"{MAX_STRENGTH:g}",
            got=f"{options.strength:g}",
        )
    # Refused, unlike an Upscale (generation.runner.img2img_schedule): here the member chose
    # both numbers and can fix them, and the runner would otherwise return no image.
    if remix_steps(options.steps, options.strength) < 1:
        needed = math.ceil(1 / options.strength)
        return "steps", t(
            "At strength {strength} a remix needs at least {needed} steps; got {got}.",
            strength=f"{options.strength:g}",
            needed=needed,
            got=options.steps,
        )
    if options.variation_seed is not None:
        # diffusers' img2img draws its noise itself: there is no start noise to mix.
        return "variation_seed", t("Variations of a remix are not available; use Re-roll for a new seed.")
    return None


# In this order: the member is told about the first problem only, so the order is part of
# the behaviour (an empty prompt is reported before a bad size, and so on).
_CHECKS: tuple[Callable[[ImagineOptions, PromptLimits], _Problem | None], ...] = (
    _check_prompt,
    _check_negative,
    _check_aspect,
    _check_steps,
    _check_cfg,
    _check_seed,
    _check_presets,
    _check_tags,
    _check_count,
    _check_variation,
    _check_hires,
    _check_remix,
)


def check_options(options: ImagineOptions, limits: PromptLimits) -> None:
    """Raise ``InvalidOption`` with a member-facing message for the first bad option."""
    for check in _CHECKS:
        problem = check(options, limits)
        if problem is not None:
            raise InvalidOption(*problem)
