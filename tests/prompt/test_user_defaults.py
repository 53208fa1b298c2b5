"""/settings precedence and the result buttons' derived requests."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cogs.results import imagine_command, parameters_text
from core.errors import InvalidOption
from db.engine import create_sessionmaker
from db.settings import SettingsStore
from prompt import followups
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.request import build_request
from prompt.user_defaults import UserDefaults, apply_defaults
from tests.support.rules import ORDINARY

DEFAULTS = UserDefaults(aspect="1216x832", quality="Light v3.1", style="Anime", negative="blurry", private=True)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, ("1216x832", "Light v3.1", "Anime")),
        ({"aspect": True}, ("832x1216", "Light v3.1", "Anime")),
        ({"quality": True, "style": True}, ("1216x832", "Standard v3.1", "(None)")),
    ],
)
def test_command_options_win_over_member_defaults(given: dict[str, bool], expected: tuple[str, str, str]) -> None:
    options = ImagineOptions(prompt="1girl", negative="bad hands", aspect="832x1216")
    merged = apply_defaults(
        options,
        DEFAULTS,
        aspect_given=given.get("aspect", False),
        quality_given=given.get("quality", False),
        style_given=given.get("style", False),
    )
    assert (merged.aspect, merged.quality, merged.style) == expected
    assert merged.negative == "bad hands, blurry"


def test_no_defaults_change_nothing() -> None:
    options = ImagineOptions(prompt="1girl")
    merged = apply_defaults(options, UserDefaults(), aspect_given=False, quality_given=False, style_given=False)
    assert merged == options


def test_channel_rules_still_apply_to_defaults() -> None:
    merged = apply_defaults(
        ImagineOptions(prompt="1girl"), DEFAULTS, aspect_given=False, quality_given=False, style_given=False
    )
    request = build_request(merged, limits=PromptLimits(), user_id=1, guild_id=2, channel_id=3, rules=ORDINARY)
    assert "explicit" in request.negative and "blurry" in request.negative


async def test_settings_are_stored_per_member(engine: AsyncEngine) -> None:
    store = SettingsStore(create_sessionmaker(engine))
    assert await store.get(1) == UserDefaults()
    await store.put(1, DEFAULTS)
    assert await store.get(1) == DEFAULTS
    assert await store.get(2) == UserDefaults()
    with pytest.raises(InvalidOption):
        await store.put(1, UserDefaults(aspect="999x999"))
    await store.reset(1)
    assert await store.get(1) == UserDefaults()


def _request(**options: object):  # type: ignore[no-untyped-def]
    merged: dict[str, object] = {"prompt": "1girl, smile", "seed": 100, "count": 3, **options}
    return build_request(
        ImagineOptions(**merged),  # type: ignore[arg-type]
        limits=PromptLimits(),
        user_id=1,
        guild_id=2,
        channel_id=3,
        rules=ORDINARY,
    )


def test_buttons_derive_requests_from_the_stored_one() -> None:
    request = _request()
    reroll = followups.reroll(request)
    assert reroll.seed is None and reroll.count == 3 and reroll.prompt == "1girl, smile"
    vary = followups.variation(request, 2)
    assert (vary.seed, vary.count, vary.variation_strength) == (102, 1, followups.VARIATION_STRENGTH)
    assert vary.variation_seed is not None
    up = followups.upscale(request, 1)
    assert (up.seed, up.count, up.hires) == (101, 1, True)
    with pytest.raises(InvalidOption, match="no image 4"):
        followups.upscale(request, 3)
    upscaled = _request(count=1, hires=True)
    with pytest.raises(InvalidOption, match="already upscaled"):
        followups.upscale(upscaled, 0)


def test_parameters_show_everything_and_a_reproducing_command() -> None:
    request = _request(negative="bad hands", count=1)
    text = parameters_text(request)
    assert text.count("```") == 6
    assert request.prompt in text and request.negative in text
    assert imagine_command(request) in text
    line = "/imagine prompt:1girl, smile negative:bad hands aspect:896x1152 seed:100"
    assert imagine_command(request).startswith(line)
