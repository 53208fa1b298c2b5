"""`/settings show|set|reset`: a member's own /imagine defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from discord import app_commands

from cogs.settings import SettingsGroup
from prompt.user_defaults import UserDefaults
from tests.support.interactions import FakeBot, FakeInteraction, FakeMember, invoke


@dataclass
class FakeSettings:
    stored: dict[int, UserDefaults] = field(default_factory=dict)
    reset_for: list[int] = field(default_factory=list)

    async def get(self, user_id: int) -> UserDefaults:
        return self.stored.get(user_id, UserDefaults())

    async def put(self, user_id: int, defaults: UserDefaults) -> None:
        self.stored[user_id] = defaults

    async def reset(self, user_id: int) -> None:
        self.reset_for.append(user_id)
        self.stored.pop(user_id, None)


def _group(settings: FakeSettings) -> SettingsGroup:
    return SettingsGroup(FakeBot(SimpleNamespace(settings=settings)).as_bot())


def _member() -> FakeInteraction:
    return FakeInteraction(user=FakeMember(id=7))


async def test_show_describes_the_members_defaults_privately() -> None:
    defaults = UserDefaults(aspect="832x1216", private=True)
    settings = FakeSettings({7: defaults})
    interaction = _member()
    await invoke(SettingsGroup.show, _group(settings), interaction)
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == (defaults.describe(), True)
    assert "**Aspect:** 832x1216" in defaults.describe()


async def test_show_without_settings_shows_the_bots_defaults() -> None:
    interaction = _member()
    await invoke(SettingsGroup.show, _group(FakeSettings()), interaction)
    assert interaction.response.only().content == UserDefaults().describe()


async def test_reset_forgets_the_members_defaults() -> None:
    settings = FakeSettings({7: UserDefaults(style="Anime")})
    interaction = _member()
    await invoke(SettingsGroup.reset, _group(settings), interaction)
    assert settings.reset_for == [7]
    assert settings.stored == {}
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == ("✅ Your defaults are back to the bot's.", True)


async def test_set_changes_only_what_is_given() -> None:
    settings = FakeSettings({7: UserDefaults(aspect="832x1216", negative="lowres")})
    interaction = _member()
    style = app_commands.Choice(name="Anime", value="Anime")
    await invoke(SettingsGroup.set_, _group(settings), interaction, style=style, private=True)
    expected = UserDefaults(aspect="832x1216", style="Anime", negative="lowres", private=True)
    assert settings.stored[7] == expected
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == ("✅ Saved.\n" + expected.describe(), True)


async def test_set_negative_dash_clears_and_spaces_are_tidied() -> None:
    settings = FakeSettings({7: UserDefaults(negative="lowres")})
    await invoke(SettingsGroup.set_, _group(settings), _member(), negative=" - ")
    assert settings.stored[7].negative == ""
    await invoke(SettingsGroup.set_, _group(settings), _member(), negative="bad   hands,\n blurry")
    assert settings.stored[7].negative == "bad hands, blurry"
