"""Table-driven: channel flag x server max x channel max x requested rating -> decision."""

from __future__ import annotations

import itertools

import pytest

from core.errors import RatingRefused
from moderation.policy import (
    OverLimitAction,
    PolicySettings,
    choose_rating,
    effective_rules,
    over_limit_action,
)
from prompt.ratings import Rating

G, S, Q, E = Rating.GENERAL, Rating.SENSITIVE, Rating.QUESTIONABLE, Rating.EXPLICIT
LIMITS = [None, G, S, Q, E]


@pytest.mark.parametrize(
    ("age_restricted", "server_max", "channel_max", "requested"),
    list(itertools.product([False, True], LIMITS, LIMITS, [None, G, S, Q, E])),
)
def test_every_combination(
    age_restricted: bool, server_max: Rating | None, channel_max: Rating | None, requested: Rating | None
) -> None:
    rules = effective_rules(
        age_restricted=age_restricted,
        server=PolicySettings(max_rating=server_max),
        channel=PolicySettings(max_rating=channel_max),
    )
    expected_max = E if age_restricted else S
    for limit in (server_max, channel_max):
        if limit is not None:
            expected_max = min(expected_max, limit)
    assert rules.max_rating == expected_max
    # Discord's ceiling can never be raised by configuration.
    assert age_restricted or rules.max_rating <= S
    assert rules.allows_sexual == (rules.max_rating >= Q)
    if requested is not None and requested > expected_max:
        with pytest.raises(RatingRefused, match=f"the limit here is `{expected_max.label}`"):
            choose_rating(rules, requested)
    else:
        assert choose_rating(rules, requested) == (requested if requested is not None else G)


@pytest.mark.parametrize(
    ("server_default", "channel_default", "age_restricted", "expected"),
    [
        (None, None, False, G),
        (S, None, False, S),
        (S, G, False, G),
        (None, E, False, S),  # lowered to the ceiling
        (None, E, True, E),
        (Q, None, True, Q),
    ],
)
def test_defaults(
    server_default: Rating | None, channel_default: Rating | None, age_restricted: bool, expected: Rating
) -> None:
    rules = effective_rules(
        age_restricted=age_restricted,
        server=PolicySettings(default_rating=server_default),
        channel=PolicySettings(default_rating=channel_default),
    )
    assert rules.default_rating == expected
    assert choose_rating(rules, None) == expected


def test_refusal_names_the_channel_kind() -> None:
    ordinary = effective_rules(age_restricted=False, server=PolicySettings(), channel=PolicySettings())
    with pytest.raises(RatingRefused, match="not age-restricted"):
        choose_rating(ordinary, E)


def test_over_limit_action_channel_overrides_server() -> None:
    rules = effective_rules(
        age_restricted=True,
        server=PolicySettings(over_limit_action=OverLimitAction.SPOILER),
        channel=PolicySettings(),
    )
    assert rules.over_limit_action is OverLimitAction.SPOILER
    rules = effective_rules(
        age_restricted=True,
        server=PolicySettings(over_limit_action=OverLimitAction.SPOILER),
        channel=PolicySettings(over_limit_action=OverLimitAction.WITHHOLD),
    )
    assert rules.over_limit_action is OverLimitAction.WITHHOLD
    assert effective_rules(
        age_restricted=False, server=PolicySettings(), channel=PolicySettings()
    ).over_limit_action is (OverLimitAction.WITHHOLD)


@pytest.mark.parametrize(
    ("age_restricted", "channel_max", "chosen", "classified", "expected"),
    [
        (False, None, OverLimitAction.SPOILER, S, None),  # within the limit: posted openly
        (False, G, OverLimitAction.SPOILER, S, OverLimitAction.SPOILER),
        (False, G, OverLimitAction.WITHHOLD, S, OverLimitAction.WITHHOLD),
        (False, None, OverLimitAction.SPOILER, Q, OverLimitAction.WITHHOLD),  # above Discord's ceiling
        (False, None, OverLimitAction.SPOILER, E, OverLimitAction.WITHHOLD),
        (True, S, OverLimitAction.SPOILER, E, OverLimitAction.SPOILER),
        (True, None, OverLimitAction.WITHHOLD, E, None),
    ],
)
def test_over_limit_action(
    age_restricted: bool,
    channel_max: Rating | None,
    chosen: OverLimitAction,
    classified: Rating,
    expected: OverLimitAction | None,
) -> None:
    rules = effective_rules(
        age_restricted=age_restricted,
        server=PolicySettings(),
        channel=PolicySettings(max_rating=channel_max, over_limit_action=chosen),
    )
    assert over_limit_action(rules, classified) is expected
