"""Translations for the languages of Animagine's largest communities: Japanese, Simplified and
Traditional Chinese, and Korean. English is the source text and the fallback.

Catalogs are gettext ``.po`` files managed with Babel, in ``core/locales/<lang>/LC_MESSAGES``:
``python scripts/i18n.py extract`` writes the template ``messages.pot`` from the registered
commands, ``python scripts/i18n.py update`` merges it into each catalog (``pybabel update``),
and ``check`` fails on a missing or broken translation (the test suite runs the same check).
They are read as ``.po`` at start-up with Babel's reader, so there are no compiled files to
keep in step. Each entry has a context: a command or option *name* must be a valid Discord
name, a *description* is free text, a *message* is what the bot writes (``core.text.t``; its
``{placeholders}`` are filled after translation).

Messages are rendered at the edge: ``render(text, interaction.locale)`` for a member,
``render(text, guild_locale)`` for a moderator log line; a language without a catalog, or a
message not yet translated, is shown in English.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from core.text import Message, as_text

LOCALES_DIR = Path(__file__).parent / "locales"
SOURCE_ROOT = Path(__file__).resolve().parent.parent
# Where the bot's messages are written (``core.text.t``); tests and tools are not shown to members.
SOURCE_PACKAGES = ("cluster", "cogs", "core", "db", "generation", "jobs", "moderation", "prompt", "quota")
DOMAIN = "messages"
# Discord's locale codes -> catalog folders.
DISCORD_LOCALES: Mapping[str, str] = {"ja": "ja", "zh-CN": "zh_Hans", "zh-TW": "zh_Hant", "ko": "ko"}
NAME, DESCRIPTION, MENU, MESSAGE = "name", "description", "menu", "message"
NOTE = "i18n:"  # a comment above a t("...") call that starts so is shown to translators
# Discord's rule for command and option names (lowercase where the script has case).
_VALID_NAME = re.compile(r"^[-_'\w]{1,32}$")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%[sd]")
_CONTEXTS = {
    Where.command_name: NAME,
    Where.group_name: NAME,
    Where.parameter_name: NAME,
    Where.command_description: DESCRIPTION,
    Where.group_description: DESCRIPTION,
    Where.parameter_description: DESCRIPTION,
}

Key = tuple[str, str]  # (context, English text)


@dataclass(frozen=True)
class Catalogs:
    """Every catalog's translations, by catalog folder name."""

    by_language: Mapping[str, Mapping[Key, str]]

    @classmethod
    def load(cls, folder: Path = LOCALES_DIR) -> Catalogs:
        return cls({language: _entries(catalog) for language, catalog in read_catalogs(folder).items()})

    def translation(self, key: Key, locale: str) -> str | None:
        """The text in a Discord locale (``ja``, ``zh-CN``...), or None to fall back to English."""
        language = DISCORD_LOCALES.get(locale)
        if language is None:
            return None
        return self.by_language.get(language, {}).get(key) or None

    def render(self, message: Message, locale: object) -> str:
        """A message in a Discord locale (a ``discord.Locale`` or its code), English where the
        catalog has no translation."""
        code = str(getattr(locale, "value", locale) or "")
        if DISCORD_LOCALES.get(code) is None:
            return as_text(message)
        return as_text(message, lambda msgid: self.translation((MESSAGE, msgid), code))


@functools.cache
def shipped_catalogs() -> Catalogs:
    """The catalogs shipped with the bot, read once (they never change while it runs)."""
    return Catalogs.load()


def render(message: Message, locale: object) -> str:
    """A message in a member's or a server's locale, with the shipped catalogs."""
    return shipped_catalogs().render(message, locale)


class CommandTranslator(app_commands.Translator):
    """Command, option and menu names and descriptions in each member's client language."""

    def __init__(self, catalogs: Catalogs) -> None:
        self._catalogs = catalogs

    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        menu = isinstance(context.data, app_commands.ContextMenu)  # its name may have spaces and capitals
        kind = MENU if menu else _CONTEXTS.get(context.location)
        if kind is None:  # choices: preset names, sizes and tags stay as the model knows them
            return None
        return self._catalogs.translation((kind, string.message), locale.value)


def read_catalogs(folder: Path = LOCALES_DIR) -> dict[str, Catalog]:
    catalogs = {}
    for language in DISCORD_LOCALES.values():
        path = folder / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.is_file():
            with path.open("rb") as handle:
                catalogs[language] = read_po(handle, locale=language.replace("_Hans", "").replace("_Hant", ""))
    return catalogs


def _entries(catalog: Catalog) -> dict[Key, str]:
    return {(m.context or "", str(m.id)): str(m.string) for m in catalog if m.id and m.string}


AnyCommand = app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu


def command_strings(commands: Iterable[AnyCommand]) -> Iterator[Key]:
    """Every translatable text of the registered commands, with its context."""
    for command in commands:
        if isinstance(command, app_commands.ContextMenu):
            yield MENU, command.name
            continue
        yield NAME, command.name
        yield DESCRIPTION, command.description
        if isinstance(command, app_commands.Group):
            yield from command_strings(command.commands)
            continue
        for parameter in command.parameters:
            yield NAME, parameter.name
            yield DESCRIPTION, parameter.description


@dataclass(frozen=True)
class Found:
    """Where a message is written, and the notes for translators next to it (``# i18n: ...``)."""

    locations: list[tuple[str, int]]
    notes: list[str]


def message_texts(root: Path = SOURCE_ROOT) -> dict[Key, Found]:
    """Every ``t("...")`` message in the bot's source, with where it is written (Babel's Python
    extractor: the first argument of each ``t`` call) and any ``# i18n:`` comment above it."""
    found: dict[Key, Found] = {}
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            # Babel warns about every f-string inside a t(...) call, values included (f"{cfg:g}");
            # a msgid that is not a literal is caught by tests/core/test_i18n.py instead.
            with path.open("rb") as handle, contextlib.redirect_stderr(io.StringIO()):
                extracted = list(
                    extract("python", handle, keywords={"t": None}, comment_tags=(NOTE,), strip_comment_tags=True)
                )
            for line, msgid, comments, _context in extracted:
                if isinstance(msgid, str) and msgid:
                    entry = found.setdefault((MESSAGE, msgid), Found([], []))
                    entry.locations.append((str(path.relative_to(root)), line))
                    entry.notes.extend(c for c in comments if c not in entry.notes)
    return found


def problems(catalog: Catalog, wanted: Iterable[Key]) -> list[str]:
    """What keeps a catalog from being complete: a missing or empty translation, a placeholder
    that differs from the English, or a command name Discord would refuse."""
    entries = _entries(catalog)
    found = []
    for key in dict.fromkeys(wanted):
        context, english = key
        text = entries.get(key)
        if not text:
            found.append(f"missing: [{context}] {english!r}")
            continue
        if sorted(_PLACEHOLDER.findall(text)) != sorted(_PLACEHOLDER.findall(english)):
            found.append(f"placeholders differ: [{context}] {english!r} -> {text!r}")
        if context == NAME and (not _VALID_NAME.match(text) or text != text.lower()):
            found.append(f"not a valid Discord name: {english!r} -> {text!r}")
    return found
