from __future__ import annotations

import dataclasses

import pytest

from core.errors import InvalidOption, PromptTooLong
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.presets import QUALITY_PRESETS, RESOLUTIONS
from prompt.request import (
    GenerationRequest,
    build_request,
)
from prompt.tags import TagDatabase
from tests.support.rules import AGE_RESTRICTED, ORDINARY

LIMITS = PromptLimits(max_prompt_chars=100, max_negative_chars=50)


def build(**changes: object) -> GenerationRequest:
    options = dataclasses.replace(ImagineOptions(prompt="1girl, smile"), **changes)  # type: ignore[arg-type]
    return build_request(options, limits=LIMITS, user_id=1, guild_id=2, channel_id=3, rules=ORDINARY)


def test_defaults_match_the_official_app() -> None:
    request = build(seed=5)
    assert (request.width, request.height) == (896, 1152)
    assert request.steps == 28
    assert request.cfg == 7.0
    assert request.sampler == "Euler a"
    assert request.quality == "Standard v3.1"
    # The applied rating (general by default) goes in as its tag, before the quality tags.
    assert request.prompt == "1girl, smile, safe, masterpiece, best quality, very aesthetic, absurdres"
    assert request.rating == "general"
    # In an ordinary channel "explicit" joins the preset's "nsfw" in the negative.
    assert request.negative == QUALITY_PRESETS["Standard v3.1"].negative + ", explicit"


def test_user_negative_goes_after_the_preset_negative() -> None:
    request = build(negative="  bad hands ", quality="(None)")
    assert request.negative == "nsfw, lowres, bad hands, explicit"
    assert request.user_negative == "bad hands"


def test_random_seed_is_in_the_official_range() -> None:
    seeds = {build().seed for _ in range(20)}
    assert len(seeds) > 1
    assert all(0 <= s <= 2147483647 for s in seeds)


@pytest.mark.parametrize("resolution", RESOLUTIONS, ids=lambda r: r.key)
def test_every_trained_resolution_is_accepted(resolution) -> None:  # type: ignore[no-untyped-def]
    request = build(aspect=resolution.key)
    assert (request.width, request.height) == (resolution.width, resolution.height)


@pytest.mark.parametrize(
    ("changes", "option", "text"),
    [
        ({"prompt": ""}, "prompt", "The prompt is empty"),
        ({"prompt": " , ,  "}, "prompt", "The prompt is empty"),
        ({"prompt": "a" * 101}, "prompt", "the limit is 100"),
        ({"negative": "b" * 51}, "negative", "the limit is 50"),
        ({"aspect": "1000x1000"}, "aspect", "Allowed sizes: 1024x1024"),
        ({"steps": 0}, "steps", "between 1 and 50"),
        ({"steps": 51}, "steps", "between 1 and 50"),
        ({"cfg": 0.5}, "cfg", "between 1 and 12"),
        ({"cfg": 12.5}, "cfg", "between 1 and 12"),
        ({"seed": -1}, "seed", "between 0 and 4294967295"),
        ({"quality": "Ultra"}, "quality", "Allowed: (None), Standard v3.0"),
        ({"style": "Oil"}, "style", "Unknown style preset"),
    ],
)
def test_bad_options_are_explained(changes: dict[str, object], option: str, text: str) -> None:
    with pytest.raises(InvalidOption) as info:
        build(**changes)
    assert info.value.option == option
    assert text in info.value.message


def test_newlines_and_nuls_are_flattened() -> None:
    request = build(prompt="1girl,\nsmile\x00, sky")
    assert request.user_prompt == "1girl, smile , sky"


def test_request_round_trips_through_json() -> None:
    request = build(seed=9)
    assert GenerationRequest.from_json(request.to_json()) == request


def test_special_tags_and_tag_order(tag_db: TagDatabase) -> None:
    options = ImagineOptions(prompt="smile, 1girl", year="newest", aesthetic="very aesthetic", quality="(None)")
    request = build_request(options, limits=LIMITS, user_id=1, guild_id=2, channel_id=3, tags=tag_db, rules=ORDINARY)
    assert request.prompt == "1girl, smile, safe, newest, very aesthetic"
    # Without tag data the member's order is kept.
    assert build(prompt="smile, 1girl", quality="(None)").prompt == "smile, 1girl, safe"


def test_rating_is_bounded_by_the_channel_flag() -> None:
    options = ImagineOptions(prompt="1girl", rating="explicit")
    with pytest.raises(InvalidOption) as info:
        build_request(options, limits=LIMITS, user_id=1, guild_id=2, channel_id=3, rules=ORDINARY)
    assert info.value.option == "rating"
    assert "the limit here is `sensitive`" in info.value.message
    sensitive = build(rating="sensitive")
    assert ", sensitive," in sensitive.prompt
    explicit = build_request(options, limits=LIMITS, user_id=1, guild_id=2, channel_id=3, rules=AGE_RESTRICTED)
    assert explicit.rating == "explicit"
    assert "explicit, nsfw" in explicit.prompt
    # In an age-restricted channel asking for nsfw, the preset's own "nsfw" negative is dropped.
    assert not explicit.negative.startswith("nsfw")


def test_unknown_year_and_aesthetic() -> None:
    with pytest.raises(InvalidOption, match="Unknown year tag"):
        build(year="ancient")
    with pytest.raises(InvalidOption, match="Unknown aesthetic tag"):
        build(aesthetic="pretty")


class WordBudget:
    """A TokenBudget that counts words as tokens and remembers what it was asked."""

    def __init__(self, max_words: int) -> None:
        self.max_words = max_words
        self.seen: list[tuple[str, str]] = []

    def check_tokens(self, prompt: str, negative: str) -> None:
        self.seen.append((prompt, negative))
        for label, text in (("prompt", prompt), ("negative prompt", negative)):
            if len(text.split()) > self.max_words:
                raise PromptTooLong(f"The {label} is too long: the limit is {self.max_words} tokens.")


def build_with(budget: WordBudget, **changes: object) -> GenerationRequest:
    limits = dataclasses.replace(LIMITS, tokens=budget)
    options = dataclasses.replace(ImagineOptions(prompt="1girl, smile", seed=5), **changes)  # type: ignore[arg-type]
    return build_request(options, limits=limits, user_id=1, guild_id=2, channel_id=3, rules=ORDINARY)


def test_token_budget_checks_the_assembled_prompt_and_negative() -> None:
    budget = WordBudget(max_words=1000)
    request = build_with(budget, negative="bad hands")
    # The text the encoder will see: presets, the rating tag and the rating negatives included.
    assert budget.seen == [(request.prompt, request.negative)]
    assert request.prompt.endswith("absurdres") and request.negative.endswith("bad hands, explicit")
    # A prompt within the budget comes out exactly as without one.
    assert request == build(seed=5, negative="bad hands")


def test_too_many_tokens_is_refused_as_the_prompt_option() -> None:
    # "1girl, smile" is 2 words; the rating tag makes the final prompt 3.
    with pytest.raises(InvalidOption) as info:
        build_with(WordBudget(max_words=2), quality="(None)")
    assert info.value.option == "prompt"
    assert info.value.message == "The prompt is too long: the limit is 2 tokens."
    # The negative is checked after "explicit" is added: "bad" becomes "nsfw, lowres, bad, explicit".
    assert build_with(WordBudget(max_words=3), quality="(None)").negative == "nsfw, lowres, explicit"
    with pytest.raises(InvalidOption) as info:
        build_with(WordBudget(max_words=3), quality="(None)", negative="bad")
    assert info.value.option == "prompt"
    assert info.value.message == "The negative prompt is too long: the limit is 3 tokens."


def test_token_budget_is_not_asked_about_an_invalid_request() -> None:
    budget = WordBudget(max_words=1000)
    with pytest.raises(InvalidOption) as info:
        build_with(budget, steps=0)
    assert info.value.option == "steps"
    assert budget.seen == []


def test_limits_compare_and_hash_without_the_budget() -> None:
    # The budget is a live object (the worker), not a setting.
    with_budget = dataclasses.replace(LIMITS, tokens=WordBudget(max_words=1))
    assert with_budget == LIMITS
    assert hash(with_budget) == hash(LIMITS)
