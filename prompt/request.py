"""The request a member makes, validated once, before anything is queued."""

from __future__ import annotations

import dataclasses
import json
import secrets
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidOption, PromptError
from core.text import Message
from prompt.assembly import AssembledPrompt, assemble_prompt
from prompt.options import (
    DEFAULT_STRENGTH,
    HIRES_SCALE,
    MAX_SEED,
    RANDOM_SEED_MAX,
    SAMPLER,
    ImagineOptions,
    PromptLimits,
    RatingRules,
    check_options,
    clean_text,
    remix_steps,
)
from prompt.presets import (
    RESOLUTIONS_BY_KEY,
)
from prompt.ratings import Rating
from prompt.tags import TagDatabase


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


def _hires(side: int) -> int:
    return int(side * HIRES_SCALE) // 8 * 8


def _rated_negative(negative: str, rules: RatingRules) -> str:
    if rules.allows_sexual:
        return negative
    # Below questionable the model is steered away from what it "may produce without
    # being asked" (model card): both rating tags go into the negative.
    present = {t.strip().lower() for t in negative.split(",")}
    missing = [t for t in ("nsfw", "explicit") if t not in present]
    return ", ".join(p for p in (negative, *missing) if p)


def _text_of(exc: ValueError) -> Message:
    """The member's message of a prompt or rating error (translatable when it was written so)."""
    text: Message = getattr(exc, "text", None) or str(exc)
    return text


def _check_tokens(limits: PromptLimits, prompt: str, negative: str) -> None:
    """The token limit, on the final text the encoder will see (presets and rating tags
    included): a prompt that could never run is refused here, before it is charged or queued."""
    if limits.tokens is None:
        return
    try:
        limits.tokens.check_tokens(prompt, negative)
    except PromptError as exc:
        raise InvalidOption("prompt", _text_of(exc)) from None


def _choose_rating(options: ImagineOptions, rules: RatingRules) -> Rating:
    """The rating the channel's rules apply to the one the member asked for (if any)."""
    try:
        requested = Rating.parse(options.rating) if options.rating is not None else None
        return rules.choose(requested)
    except ValueError as exc:  # an unknown label, or moderation's RatingRefused
        raise InvalidOption("rating", _text_of(exc)) from None


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
        raise InvalidOption("prompt", _text_of(exc)) from None


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
    user_prompt = clean_text(options.prompt)
    user_negative = clean_text(options.negative)
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
