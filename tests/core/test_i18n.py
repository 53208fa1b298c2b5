"""The translation catalogs: the template lists every command text and every message
(``core.text.t``), each of the four catalogs translates all of it with valid names and the same
placeholders, the translator answers per Discord locale, and messages render in the reader's
language (English, the source, is the fallback)."""

from __future__ import annotations

import ast
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
    MESSAGE,
    NAME,
    SOURCE_PACKAGES,
    SOURCE_ROOT,
    Catalogs,
    CommandTranslator,
    message_texts,
    problems,
    read_catalogs,
    render,
)
from core.text import lines, t


async def _wanted() -> list[tuple[str, str]]:
    return [*await command_texts(), *message_texts()]


async def test_the_template_lists_every_command_text_and_message() -> None:
    with (LOCALES_DIR / "messages.pot").open("rb") as handle:
        template = read_po(handle)
    listed = {(m.context or "", str(m.id)) for m in template if m.id}
    assert listed == set(await _wanted()), "run: python scripts/i18n.py extract && python scripts/i18n.py update"


async def test_every_catalog_translates_every_command_text_and_message() -> None:
    catalogs = read_catalogs()
    assert set(catalogs) == set(DISCORD_LOCALES.values())
    wanted = await _wanted()
    for language, catalog in catalogs.items():
        assert problems(catalog, wanted) == [], language


def test_every_message_is_a_literal_the_extractor_can_read() -> None:
    """``t(f"...")`` or ``t(name)`` would be shown in English forever: the catalogs never see it."""
    found = []
    for package in SOURCE_PACKAGES:
        for path in sorted((SOURCE_ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "t":
                    first = node.args[0] if node.args else None
                    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                        found.append(f"{path.relative_to(SOURCE_ROOT)}:{node.lineno}")
    assert found == []


def test_messages_are_extracted_with_their_context_and_place() -> None:
    texts = message_texts()
    key = (MESSAGE, "Steps must be between {low} and {high}; got {got}.")
    assert key in texts and texts[key].locations[0][0] == "prompt/options.py"
    notes = texts[(MESSAGE, "You have used all {daily} of your images for today. Your quota resets {when}.")].notes
    assert notes and "timestamp" in notes[0]  # the note above the t(...) call, for translators
    assert (MESSAGE, "Something went wrong on our side; the error was logged. Please try again later.") in texts


def test_messages_render_in_the_readers_language_with_english_as_the_fallback() -> None:
    catalogs = Catalogs(
        {
            "ja": {
                (
                    MESSAGE,
                    "Steps must be between {low} and {high}; got {got}.",
                ): "ステップ数は{low}〜{high}です（{got}）。",
                (MESSAGE, "no"): "いいえ",
            }
        }
    )
    steps = t("Steps must be between {low} and {high}; got {got}.", low=1, high=50, got=99)
    assert catalogs.render(steps, "ja") == "ステップ数は1〜50です（99）。"
    assert catalogs.render(steps, discord.Locale.japanese) == "ステップ数は1〜50です（99）。"
    english = "Steps must be between 1 and 50; got 99."
    assert catalogs.render(steps, "ko") == english  # no translation yet
    assert catalogs.render(steps, "fr") == english  # no catalog
    assert catalogs.render(steps, "en-US") == english
    # A nested message is translated too; plain values (tags, presets) never are.
    nested = t("**Private results:** {value}", value=t("no"))
    assert catalogs.render(lines(nested, "1girl, smile"), "ja") == "**Private results:** いいえ\n1girl, smile"


def test_the_shipped_catalogs_render_japanese() -> None:
    text = t("Prompt: `{prompt}`", prompt="1girl, {smile}")
    assert render(text, "ja") == "プロンプト: `1girl, {smile}`"
    assert render(text, "en-GB") == "Prompt: `1girl, {smile}`"


def test_problems_names_a_message_missing_or_with_other_placeholders() -> None:
    catalog = Catalog(locale="ja")
    catalog.add("Count must be between 1 and {high}; got {got}.", "枚数は1〜{high}枚です。", context=MESSAGE)
    wanted = [(MESSAGE, "Count must be between 1 and {high}; got {got}."), (MESSAGE, "no")]
    assert problems(catalog, wanted) == [
        "placeholders differ: [message] 'Count must be between 1 and {high}; got {got}.' -> '枚数は1〜{high}枚です。'",
        "missing: [message] 'no'",
    ]


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
