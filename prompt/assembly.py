"""Animagine XL 3.1 prompt assembly (emphasis parsing lives in ``prompt.emphasis``).

Assembly order (a design choice; the model card's example prompts end with the special
tags, e.g. ``1girl, souryuu asuka langley, neon genesis evangelion, solo, upper body, v,
smile, looking at viewer, outdoors, night, masterpiece, best quality, very aesthetic,
absurdres``):

1. the user's tags, normalised and ordered (count, character, series, everything else);
2. the special-tag options the user did not already write: rating, then year, then
   aesthetic, so they sit in the trailing block of special tags where training put them;
3. ``presets.apply_presets``: quality preset tags, then the style preset wraps the result.

The result is e.g. ``1girl, hatsune miku, smile, safe, newest, masterpiece, best quality,
very aesthetic, absurdres``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import EmptyPrompt, InvalidWeight, PromptTooLong, UnknownOption
from core.text import Text, t
from prompt.emphasis import BREAK, parse_attention
from prompt.presets import DEFAULT_QUALITY, DEFAULT_STYLE, apply_presets
from prompt.ratings import Rating
from prompt.tags import TagDatabase, bare_tag, normalize_tags, order_tags, split_tags

QUALITY_TAGS: tuple[str, ...] = (
    "masterpiece",
    "best quality",
    "great quality",
    "good quality",
    "normal quality",
    "low quality",
    "worst quality",
)
YEAR_TAGS: tuple[str, ...] = ("newest", "recent", "mid", "early", "oldest")
AESTHETIC_TAGS: tuple[str, ...] = ("very aesthetic", "aesthetic", "displeasing", "very displeasing")
RATING_TAGS: frozenset[str] = frozenset(t for r in Rating for t in r.prompt_tags)

# Discord's string options go up to 6000 characters; this keeps prompts to a size the
# encoder's default chunk limit can take and that fits in a Discord message.
DEFAULT_MAX_CHARS = 1000


@dataclass(frozen=True, slots=True)
class AssembledPrompt:
    prompt: str
    negative: str


# --- assembly -------------------------------------------------------------------------------


def _core(unit: str) -> str:
    return bare_tag(unit).lower()


def _option(value: str | None, allowed: tuple[str, ...], what: Text) -> str | None:
    if value is None or not value.strip():
        return None
    tag = " ".join(value.replace("_", " ").split()).lower()
    if tag not in allowed:
        raise UnknownOption(
            t(
                "unknown {what} {value}; choose one of: {allowed}",
                what=what,
                value=repr(value),
                allowed=", ".join(allowed),
            )
        )
    return tag


def _dedupe(units: list[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for unit in units:
        key = unit.lower()
        if unit != BREAK and key in seen:
            continue
        seen.add(key)
        out.append(unit)
    return out


def _check_lengths(prompt: str, negative: str, max_chars: int) -> None:
    if len(prompt) > max_chars:
        raise PromptTooLong(
            t("The prompt is {length} characters long; the limit is {limit}.", length=len(prompt), limit=max_chars)
        )
    if len(negative) > max_chars:
        raise PromptTooLong(
            t(
                "The negative prompt is {length} characters long; the limit is {limit}.",
                length=len(negative),
                limit=max_chars,
            )
        )


def _user_units(prompt: str, rating: Rating | None, tags: TagDatabase | None) -> list[str]:
    """The user's tags, normalised, without rating tags that contradict ``rating``, ordered."""
    units = normalize_tags(prompt)
    if rating is not None:
        wanted = rating.prompt_tags
        units = [u for u in units if _core(u) not in RATING_TAGS or _core(u) in wanted]
    if not any(bare_tag(u) for u in units if u != BREAK):
        raise EmptyPrompt(t("The prompt is empty; write a few comma-separated tags, e.g. `1girl, smile`."))
    if tags is not None:
        units = order_tags(units, tags)
    return units


def _preset_tags(quality: str, style: str) -> tuple[str, str]:
    """What the presets alone add to the prompt and to the negative."""
    try:
        return apply_presets("", "", quality=quality, style=style)
    except ValueError as exc:
        raise UnknownOption(str(exc)) from None


def _with_special_tags(units: list[str], preset_prompt: str, specials: tuple[str | None, ...]) -> list[str]:
    """``units`` plus the special tags neither the user nor the presets already wrote."""
    out = list(units)
    present = {_core(u) for u in out} | {_core(u) for u in split_tags(preset_prompt)}
    for special in specials:
        if special is not None and special not in present:
            out.append(special)
            present.add(special)
    return out


def _check_weights(final_prompt: str, final_negative: str) -> None:
    for text, weight in parse_attention(final_prompt) + parse_attention(final_negative):
        if not math.isfinite(weight):
            raise InvalidWeight(t("The weight of {text} is not a usable number.", text=repr(text.strip())))


def assemble_prompt(
    prompt: str,
    negative: str = "",
    *,
    quality: str = DEFAULT_QUALITY,
    style: str = DEFAULT_STYLE,
    rating: Rating | None = None,
    year: str | None = None,
    aesthetic: str | None = None,
    tags: TagDatabase | None = None,
    allow_nsfw: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> AssembledPrompt:
    """Build the final prompt and negative for Animagine XL 3.1 (order: see module doc).

    ``rating`` is the rating actually applied (channel policy decides it): its tags are
    added unless the user wrote them, and rating tags the user wrote that contradict it
    are dropped, so the prompt never asks for two ratings. Without ``tags`` the user's
    order is kept (no categories to order by). With ``allow_nsfw`` and a rating that
    includes ``nsfw``, the presets' ``nsfw`` negative tag is left out (the user's own
    negative is kept as written).
    """
    _check_lengths(prompt, negative, max_chars)
    year_tag = _option(year, YEAR_TAGS, t("year tag"))
    aesthetic_tag = _option(aesthetic, AESTHETIC_TAGS, t("aesthetic tag"))

    units = _user_units(prompt, rating, tags)
    wanted_rating = rating.prompt_tags if rating is not None else ()
    preset_prompt, preset_negative = _preset_tags(quality, style)
    units = _with_special_tags(units, preset_prompt, (*wanted_rating, year_tag, aesthetic_tag))

    user_negative = ", ".join(normalize_tags(negative))
    final_prompt, final_negative = apply_presets(", ".join(units), user_negative, quality=quality, style=style)
    # The user's own quality tags are respected; a preset repeating them adds nothing.
    final_prompt = ", ".join(_dedupe(split_tags(final_prompt)))

    if allow_nsfw and rating is not None and "nsfw" in rating.prompt_tags:
        kept = [u for u in split_tags(preset_negative) if _core(u) != "nsfw"]
        final_negative = ", ".join(part for part in (", ".join(kept), user_negative) if part)

    _check_weights(final_prompt, final_negative)
    return AssembledPrompt(final_prompt, final_negative)
