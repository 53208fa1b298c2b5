"""The request a member makes, validated once, before anything is queued."""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.errors import InvalidOption, PromptError
from prompt.assembly import AESTHETIC_TAGS, YEAR_TAGS, AssembledPrompt, assemble_prompt
from prompt.presets import (
    DEFAULT_QUALITY,
    DEFAULT_RESOLUTION,
    DEFAULT_STYLE,
    QUALITY_PRESETS,
    RESOLUTIONS_BY_KEY,
    STYLE_PRESETS,
)
from prompt.ratings import Rating
from prompt.tags import TagDatabase

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


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A validated request: exactly what the pipeline receives, and who asked where."""

    prompt: str  # final prompt, presets applied
    negative: str  # final negative prompt
    user_prompt: str
    user_negative: str
    width: int
    height: int
    steps: int
    cfg: float
    seed: int
    sampler: str
    quality: str
    style: str
    rating: str  # the rating applied (a Rating label)
    year: str | None
    aesthetic: str | None
    user_id: int
    guild_id: int | None
    channel_id: int
    # Added after the first release: defaults keep older stored jobs readable.
    count: int = 1
    variation_seed: int | None = None
    variation_strength: float = 0.0
    hires: bool = False
    source: str | None = None  # a remix's source image (its digest); None: text to image
    strength: float = 0.0  # a remix's denoising strength; 0 without a source

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple((self.seed + i) % (MAX_SEED + 1) for i in range(self.count))

    @property
    def output_size(self) -> tuple[int, int]:
        """The delivered size: the hires pass enlarges by 1.5 (to a multiple of 8)."""
        if not self.hires:
            return self.width, self.height
        return _hires(self.width), _hires(self.height)

    def batch_traits(self) -> tuple[object, ...] | None:
        """What requests sharing one pipeline call must have in common (the generator adds the
        prompt-chunk count, which needs the tokenizer); None: it runs alone (a hires pass or a
        variation seed)."""
        if self.hires or self.variation_seed is not None:
            return None
        # Remixes share a call with remixes of the same strength (their images differ), never
        # with text-to-image requests: the two are different pipelines.
        remix = (self.strength,) if self.source is not None else ()
        return (self.width, self.height, self.steps, self.cfg, self.sampler, *remix)

    @property
    def denoising_steps(self) -> int:
        """Steps the first pass really runs: diffusers' img2img runs int(steps * strength)."""
        if self.source is None:
            return self.steps
        return remix_steps(self.steps, self.strength)

    def options(self, **changes: Any) -> ImagineOptions:
        """The /imagine options that make this request again (for the result buttons)."""
        base = ImagineOptions(
            prompt=self.user_prompt,
            negative=self.user_negative,
            aspect=self.size,
            seed=self.seed,
            steps=self.steps,
            cfg=self.cfg,
            quality=self.quality,
            style=self.style,
            rating=self.rating,
            year=self.year,
            aesthetic=self.aesthetic,
            count=self.count,
            variation_seed=self.variation_seed,
            variation_strength=self.variation_strength,
            hires=self.hires,
            source=self.source,
            strength=self.strength if self.source is not None else DEFAULT_STRENGTH,
        )
        return dataclasses.replace(base, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> GenerationRequest:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


def remix_steps(steps: int, strength: float) -> int:
    return min(int(steps * strength), steps)


def _hires(side: int) -> int:
    return int(side * HIRES_SCALE) // 8 * 8


def _clean(text: str) -> str:
    # Discord clients can send newlines and NULs; CLIP needs neither, and the A1111
    # metadata format is line based.
    return " ".join(text.replace("\x00", " ").split())


# A failed check: (option name, member-facing message).
_Problem = tuple[str, str]


def _check_prompt(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    prompt = _clean(options.prompt)
    if not prompt.strip(" ,"):
        return "prompt", "The prompt is empty. Write some Danbooru tags, e.g. `1girl, long hair, smile`."
    if len(prompt) > limits.max_prompt_chars:
        return "prompt", f"The prompt is {len(prompt)} characters long; the limit is {limits.max_prompt_chars}."
    return None


def _check_negative(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    negative = _clean(options.negative)
    if len(negative) > limits.max_negative_chars:
        return (
            "negative",
            f"The negative prompt is {len(negative)} characters long; the limit is {limits.max_negative_chars}.",
        )
    return None


def _check_aspect(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.aspect not in RESOLUTIONS_BY_KEY:
        allowed = ", ".join(RESOLUTIONS_BY_KEY)
        return "aspect", f"Unknown aspect `{options.aspect}`. Allowed sizes: {allowed}."
    return None


def _check_steps(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if not MIN_STEPS <= options.steps <= MAX_STEPS:
        return "steps", f"Steps must be between {MIN_STEPS} and {MAX_STEPS}; got {options.steps}."
    return None


def _check_cfg(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if not MIN_CFG <= options.cfg <= MAX_CFG:
        return "cfg", f"CFG must be between {MIN_CFG:g} and {MAX_CFG:g}; got {options.cfg:g}."
    return None


def _check_seed(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.seed is not None and not 0 <= options.seed <= MAX_SEED:
        return "seed", f"The seed must be between 0 and {MAX_SEED}; got {options.seed}."
    return None


def _check_presets(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.quality not in QUALITY_PRESETS:
        return "quality", f"Unknown quality preset. Allowed: {', '.join(QUALITY_PRESETS)}."
    if options.style not in STYLE_PRESETS:
        return "style", f"Unknown style preset. Allowed: {', '.join(STYLE_PRESETS)}."
    return None


def _check_tags(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.year is not None and options.year not in YEAR_TAGS:
        return "year", f"Unknown year tag. Allowed: {', '.join(YEAR_TAGS)}."
    if options.aesthetic is not None and options.aesthetic not in AESTHETIC_TAGS:
        return "aesthetic", f"Unknown aesthetic tag. Allowed: {', '.join(AESTHETIC_TAGS)}."
    return None


def _check_count(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if not 1 <= options.count <= MAX_COUNT:
        return "count", f"Count must be between 1 and {MAX_COUNT}; got {options.count}."
    return None


def _check_variation(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.variation_seed is not None and not 0 <= options.variation_seed <= MAX_SEED:
        return "variation_seed", f"The variation seed must be between 0 and {MAX_SEED}."
    if not 0.0 <= options.variation_strength <= 1.0:
        return "variation_strength", "The variation strength must be between 0 and 1."
    return None


def _check_hires(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.hires and options.count != 1:
        return "count", "Upscaling works on one image at a time."
    return None


def _check_remix(options: ImagineOptions, limits: PromptLimits) -> _Problem | None:
    if options.source is None:
        return None
    if not MIN_STRENGTH <= options.strength <= MAX_STRENGTH:
        return "strength", f"Strength must be between {MIN_STRENGTH:g} and {MAX_STRENGTH:g}; got {options.strength:g}."
    if remix_steps(options.steps, options.strength) < 1:
        needed = math.ceil(1 / options.strength)
        return "steps", f"At strength {options.strength:g} a remix needs at least {needed} steps; got {options.steps}."
    if options.variation_seed is not None:
        # diffusers' img2img draws its noise itself: there is no start noise to mix.
        return "variation_seed", "Variations of a remix are not available; use Re-roll for a new seed."
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


def _rated_negative(negative: str, rules: RatingRules) -> str:
    if rules.allows_sexual:
        return negative
    # Below questionable the model is steered away from what it "may produce without
    # being asked" (model card): both rating tags go into the negative.
    present = {t.strip().lower() for t in negative.split(",")}
    missing = [t for t in ("nsfw", "explicit") if t not in present]
    return ", ".join(p for p in (negative, *missing) if p)


def _check_tokens(limits: PromptLimits, prompt: str, negative: str) -> None:
    """The token limit, on the final text the encoder will see (presets and rating tags
    included): a prompt that could never run is refused here, before it is charged or queued."""
    if limits.tokens is None:
        return
    try:
        limits.tokens.check_tokens(prompt, negative)
    except PromptError as exc:
        raise InvalidOption("prompt", str(exc)) from None


def _choose_rating(options: ImagineOptions, rules: RatingRules) -> Rating:
    """The rating the channel's rules apply to the one the member asked for (if any)."""
    try:
        requested = Rating.parse(options.rating) if options.rating is not None else None
        return rules.choose(requested)
    except ValueError as exc:  # an unknown label, or moderation's RatingRefused
        raise InvalidOption("rating", str(exc)) from None


def _assemble(
    options: ImagineOptions,
    user_prompt: str,
    user_negative: str,
    *,
    rating: Rating,
    rules: RatingRules,
    limits: PromptLimits,
    tags: TagDatabase | None,
) -> AssembledPrompt:
    """The final prompt and negative, with the assembler's errors as ``InvalidOption``."""
    try:
        return assemble_prompt(
            user_prompt,
            user_negative,
            quality=options.quality,
            style=options.style,
            rating=rating,
            year=options.year,
            aesthetic=options.aesthetic,
            tags=tags,
            allow_nsfw=rules.allows_sexual,
            max_chars=max(limits.max_prompt_chars, limits.max_negative_chars),
        )
    except PromptError as exc:
        raise InvalidOption("prompt", str(exc)) from None


def build_request(
    options: ImagineOptions,
    *,
    limits: PromptLimits,
    user_id: int,
    guild_id: int | None,
    channel_id: int,
    rules: RatingRules,
    tags: TagDatabase | None = None,
) -> GenerationRequest:
    """Validate options and assemble the final prompt under the channel's rules; the token
    limit (``limits.tokens``) is checked on the assembled prompt and negative."""
    check_options(options, limits)
    user_prompt = _clean(options.prompt)
    user_negative = _clean(options.negative)
    rating = _choose_rating(options, rules)
    assembled = _assemble(options, user_prompt, user_negative, rating=rating, rules=rules, limits=limits, tags=tags)
    negative = _rated_negative(assembled.negative, rules)
    _check_tokens(limits, assembled.prompt, negative)
    resolution = RESOLUTIONS_BY_KEY[options.aspect]
    seed = options.seed if options.seed is not None else secrets.randbelow(RANDOM_SEED_MAX + 1)
    return GenerationRequest(
        prompt=assembled.prompt,
        negative=negative,
        user_prompt=user_prompt,
        user_negative=user_negative,
        width=resolution.width,
        height=resolution.height,
        steps=options.steps,
        cfg=float(options.cfg),
        seed=seed,
        sampler=SAMPLER,
        quality=options.quality,
        style=options.style,
        rating=rating.label,
        year=options.year,
        aesthetic=options.aesthetic,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id,
        count=options.count,
        variation_seed=options.variation_seed,
        variation_strength=float(options.variation_strength) if options.variation_seed is not None else 0.0,
        hires=options.hires,
        source=options.source,
        strength=float(options.strength) if options.source is not None else 0.0,
    )
