"""A validated request as the store hands it back, for tests that need one without the tag data."""

from __future__ import annotations

import dataclasses
from typing import Any

from prompt.options import ImagineOptions, PromptLimits
from prompt.request import GenerationRequest, build_request
from tests.support.rules import ORDINARY

_BASE = GenerationRequest(
    prompt="1girl, smile, masterpiece",
    negative="lowres",
    user_prompt="1girl, smile",
    user_negative="",
    width=832,
    height=1216,
    steps=28,
    cfg=7.0,
    seed=1234,
    sampler="Euler a",
    quality="Standard v3.1",
    style="(None)",
    rating="general",
    year=None,
    aesthetic=None,
    user_id=7,
    guild_id=10,
    channel_id=20,
)


def sample_request(**changes: Any) -> GenerationRequest:
    """Member 7's request in guild 10, channel 20; ``changes`` replace fields."""
    return dataclasses.replace(_BASE, **changes)


def validated_request(**options: Any) -> GenerationRequest:
    """``options`` as /imagine options, through the validator, for member 1 in guild 2, channel 3
    under ordinary rules (the tiny-pipeline tests' requests)."""
    return build_request(
        ImagineOptions(**options), limits=PromptLimits(), user_id=1, guild_id=2, channel_id=3, rules=ORDINARY
    )
