"""Messages as templates and values: English unchanged when rendered without a catalog, values
(nested messages included) filled after translation, and a broken translation never hides the
message."""

from __future__ import annotations

from core.errors import InvalidOption, UserFacingError
from core.text import Lines, Text, as_text, lines, t


def test_a_message_renders_its_english_template_with_its_values() -> None:
    text = t("Steps must be between {low} and {high}; got {got}.", low=1, high=50, got=99)
    assert text == Text("Steps must be between {low} and {high}; got {got}.", (("low", 1), ("high", 50), ("got", 99)))
    assert str(text) == "Steps must be between 1 and 50; got 99."


def test_a_message_without_values_is_shown_as_written_braces_and_all() -> None:
    assert str(t("Use `{tag}` literally")) == "Use `{tag}` literally"


def test_values_are_shown_as_they_are_and_nested_messages_are_looked_up() -> None:
    looked_up: list[str] = []

    def lookup(msgid: str) -> str | None:
        looked_up.append(msgid)
        return {"no": "いいえ", "**Private results:** {value}": "**非公開:** {value}"}.get(msgid)

    text = t("**Private results:** {value}", value=t("no"))
    assert text.render(lookup) == "**非公開:** いいえ"
    assert looked_up == ["**Private results:** {value}", "no"]
    # A tag that looks like a placeholder is a value, never a template.
    assert t("Prompt: `{prompt}`", prompt="{x}, 1girl").render(lookup) == "Prompt: `{x}, 1girl`"


def test_lines_join_messages_and_plain_text() -> None:
    joined = lines(t("A {n}", n=1), "plain", lines("x", "y", separator=", "))
    assert isinstance(joined, Lines)
    assert str(joined) == "A 1\nplain\nx, y"
    assert as_text(3) == "3"


def test_a_broken_translation_falls_back_to_english() -> None:
    text = t("Count must be between 1 and {high}.", high=4)
    assert text.render(lambda _: "枚数は1〜{max}枚です。") == "Count must be between 1 and 4."
    assert text.render(lambda _: None) == "Count must be between 1 and 4."
    assert text.render(lambda _: "") == "Count must be between 1 and 4."


def test_errors_keep_the_english_message_and_the_text_to_translate() -> None:
    text = t("Count must be between 1 and {high}; got {got}.", high=4, got=9)
    error = InvalidOption("count", text)
    assert (error.message, str(error), error.text, error.option) == (str(text), str(text), text, "count")
    plain = UserFacingError("No images left today.")
    assert (plain.message, plain.text) == ("No images left today.", "No images left today.")
