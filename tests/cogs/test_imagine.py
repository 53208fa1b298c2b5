"""`/imagine`: options map onto ImagineOptions, the member's /settings fill the gaps, and the
request goes to core.submit.submit_imagine."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest
from discord import app_commands

import cogs.imagine
from cogs.imagine import ImagineCog
from prompt.options import (
    DEFAULT_CFG,
    DEFAULT_STEPS,
    ImagineOptions,
)
from prompt.presets import DEFAULT_QUALITY, DEFAULT_RESOLUTION, DEFAULT_STYLE
from prompt.user_defaults import UserDefaults
from tests.support.interactions import FakeBot, FakeInteraction, FakeMember, invoke


@dataclass
class FakeSettings:
    defaults: UserDefaults = field(default_factory=UserDefaults)
    asked: list[int] = field(default_factory=list)

    async def get(self, user_id: int) -> UserDefaults:
        self.asked.append(user_id)
        return self.defaults


@dataclass
class Submitted:
    bot: object
    interaction: object
    options: ImagineOptions
    private: bool


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch) -> list[Submitted]:
    calls: list[Submitted] = []

    async def fake_submit(
        bot: object, interaction: object, options: ImagineOptions, *, private: bool = False, remix: object = None
    ) -> None:
        calls.append(Submitted(bot, interaction, options, private))

    monkeypatch.setattr(cogs.imagine, "submit_imagine", fake_submit)
    return calls


def _choice(value: str) -> app_commands.Choice[str]:
    return app_commands.Choice(name=value, value=value)


async def test_a_bare_prompt_gets_the_bots_defaults(submitted: list[Submitted]) -> None:
    settings = FakeSettings()
    bot = FakeBot(SimpleNamespace(settings=settings))
    interaction = FakeInteraction(user=FakeMember(id=7))
    await invoke(ImagineCog.imagine, ImagineCog(bot.as_bot()), interaction, prompt="1girl, smile")
    (call,) = submitted
    assert call.options == ImagineOptions(
        prompt="1girl, smile",
        negative="",
        aspect=DEFAULT_RESOLUTION,
        seed=None,
        steps=DEFAULT_STEPS,
        cfg=DEFAULT_CFG,
        quality=DEFAULT_QUALITY,
        style=DEFAULT_STYLE,
    )
    assert call.private is False
    assert call.bot is bot and call.interaction is interaction
    assert settings.asked == [7]


async def test_command_options_are_passed_through(submitted: list[Submitted]) -> None:
    bot = FakeBot(SimpleNamespace(settings=FakeSettings()))
    await invoke(
        ImagineCog.imagine,
        ImagineCog(bot.as_bot()),
        FakeInteraction(),
        prompt="1boy",
        negative="lowres",
        seed=42,
        steps=20,
        cfg=5.5,
        rating=_choice("sensitive"),
        year=_choice("newest"),
        aesthetic=_choice("very aesthetic"),
        count=3,
    )
    options = submitted[0].options
    assert (options.negative, options.seed, options.steps, options.cfg, options.count) == ("lowres", 42, 20, 5.5, 3)
    assert (options.rating, options.year, options.aesthetic) == ("sensitive", "newest", "very aesthetic")


async def test_user_defaults_fill_what_the_command_left_out(submitted: list[Submitted]) -> None:
    defaults = UserDefaults(aspect="832x1216", quality="Heavy v3.1", style="Anime", negative="bad hands", private=True)
    bot = FakeBot(SimpleNamespace(settings=FakeSettings(defaults)))
    await invoke(ImagineCog.imagine, ImagineCog(bot.as_bot()), FakeInteraction(), prompt="1girl", negative="lowres")
    (call,) = submitted
    assert (call.options.aspect, call.options.quality, call.options.style) == ("832x1216", "Heavy v3.1", "Anime")
    assert call.options.negative == "lowres, bad hands"
    assert call.private is True


async def test_command_options_win_over_user_defaults(submitted: list[Submitted]) -> None:
    defaults = UserDefaults(aspect="832x1216", quality="Heavy v3.1", style="Anime")
    bot = FakeBot(SimpleNamespace(settings=FakeSettings(defaults)))
    await invoke(
        ImagineCog.imagine,
        ImagineCog(bot.as_bot()),
        FakeInteraction(),
        prompt="1girl",
        aspect=_choice("1024x1024"),
        quality=_choice("Light v3.1"),
        style=_choice("Manga"),
    )
    options = submitted[0].options
    assert (options.aspect, options.quality, options.style) == ("1024x1024", "Light v3.1", "Manga")


async def test_choosing_the_bot_default_explicitly_still_wins(submitted: list[Submitted]) -> None:
    defaults = UserDefaults(quality="Heavy v3.1")
    bot = FakeBot(SimpleNamespace(settings=FakeSettings(defaults)))
    cog = ImagineCog(bot.as_bot())
    await invoke(ImagineCog.imagine, cog, FakeInteraction(), prompt="1girl", quality=_choice(DEFAULT_QUALITY))
    assert submitted[0].options.quality == DEFAULT_QUALITY
