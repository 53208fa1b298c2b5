"""The translation catalogs: the template lists every command text, each of the four catalogs
translates all of it with valid names and the same placeholders, and the translator answers
per Discord locale (English, the source, is the fallback)."""

from __future__ import annotations

from typing import Any, cast

import discord
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from discord import app_commands
from discord.app_commands import TranslationContext
from discord.app_commands import TranslationContextLocation as Where

from core.client import command_texts
from core.i18n import (
    DESCRIPTION,
    DISCORD_LOCALES,
    LOCALES_DIR,
    NAME,
    Catalogs,
    CommandTranslator,
    problems,
    read_catalogs,
)


async def test_the_template_lists_every_command_text() -> None:
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    listed = {(m.context or "", str(m.id)) for m in template if m.id}
    assert listed == set(await command_texts()), "run: python scripts/i18n.py extract && python scripts/i18n.py update"


async def test_every_catalog_translates_every_command_text() -> None:
    catalogs = read_catalogs()
    assert set(catalogs) == set(DISCORD_LOCALES.values())
    wanted = await command_texts()
    for language, catalog in catalogs.items():
        assert problems(catalog, wanted) == [], language


def test_problems_names_what_is_missing_or_broken() -> None:
    catalog = Catalog(locale="ja")
    catalog.add("imagine", "画像 生成", context=NAME)  # a space: Discord refuses the name
    catalog.add("Up to {limit} images", "最大 枚", context=DESCRIPTION)  # the placeholder is gone
    wanted = [(NAME, "imagine"), (DESCRIPTION, "Up to {limit} images"), (NAME, "seed")]
    assert problems(catalog, wanted) == [
        "not a valid Discord name: 'imagine' -> '画像 生成'",
        "placeholders differ: [description] 'Up to {limit} images' -> '最大 枚'",
        "missing: [name] 'seed'",
    ]


async def test_the_translator_answers_in_the_members_language_or_not_at_all() -> None:
    translator = CommandTranslator(Catalogs({"ja": {(NAME, "imagine"): "画像生成"}, "ko": {}}))
    name: app_commands.TranslationContextTypes = TranslationContext(location=Where.command_name, data=cast(Any, None))
    choice: app_commands.TranslationContextTypes = TranslationContext(location=Where.choice_name, data=cast(Any, None))
    text = app_commands.locale_str("imagine")
    assert await translator.translate(text, discord.Locale.japanese, name) == "画像生成"
    assert await translator.translate(text, discord.Locale.korean, name) is None  # not translated: English
    assert await translator.translate(text, discord.Locale.french, name) is None  # no catalog
    assert await translator.translate(text, discord.Locale.japanese, choice) is None  # presets stay as they are
