from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import EmptyPrompt, InvalidWeight, PromptError, PromptTooLong, UnknownOption
from prompt.assembly import AESTHETIC_TAGS, QUALITY_TAGS, YEAR_TAGS, AssembledPrompt, assemble_prompt
from prompt.emphasis import parse_attention
from prompt.presets import QUALITY_PRESETS, apply_presets
from prompt.ratings import Rating
from prompt.tags import TagDatabase


@pytest.fixture(scope="module")
def db(tag_db: TagDatabase) -> TagDatabase:
    return tag_db


# --- parse_attention: AUTOMATIC1111's doctest examples, verbatim ------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("normal text", [("normal text", 1.0)]),
        ("an (important) word", [("an ", 1.0), ("important", 1.1), (" word", 1.0)]),
        ("(unbalanced", [("unbalanced", 1.1)]),
        ("\\(literal\\]", [("(literal]", 1.0)]),
        ("(unnecessary)(parens)", [("unnecessaryparens", 1.1)]),
        (
            "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
            [
                ("a ", 1.0),
                ("house", 1.5730000000000004),
                (" ", 1.1),
                ("on", 1.0),
                (" a ", 1.1),
                ("hill", 0.55),
                (", sun, ", 1.1),
                ("sky", 1.4641000000000006),
                (".", 1.1),
            ],
        ),
    ],
)
def test_a1111_doctests(text: str, expected: list[tuple[str, float]]) -> None:
    assert parse_attention(text) == expected


def test_empty_prompt() -> None:
    assert parse_attention("") == [("", 1.0)]


def test_square_brackets_and_explicit_weights() -> None:
    assert parse_attention("[x]") == [("x", 1 / 1.1)]
    assert parse_attention("[unbalanced") == [("unbalanced", 1 / 1.1)]
    assert parse_attention("(x:1.5)") == [("x", 1.5)]
    assert parse_attention("((x:1.5))") == [("x", 1.5 * 1.1)]
    assert parse_attention("(x:.5)") == [("x", 0.5)]
    assert parse_attention("(x:-1)") == [("x", -1.0)]  # A1111 allows it; so do we


def test_escapes() -> None:
    assert parse_attention(r"saber \(fate\)") == [("saber (fate)", 1.0)]
    assert parse_attention(r"\[a\]") == [("[a]", 1.0)]
    assert parse_attention("a\\\\b") == [("a\\b", 1.0)]
    assert parse_attention(r"(saber \(fate\):1.2)") == [("saber (fate)", 1.2)]
    # A lone backslash is dropped, as in A1111.
    assert parse_attention(r"\m/") == [("m/", 1.0)]


def test_unmatched_closers_are_literal() -> None:
    assert parse_attention("a) b]") == [("a) b]", 1.0)]
    assert parse_attention("smile :1.2)") == [("smile :1.2)", 1.0)]


def test_malformed_weight_is_text_not_an_error() -> None:
    # A1111 would call float(".") here and crash.
    assert parse_attention("(a:.)") == [("a:.", 1.1)]
    assert parse_attention("(a:1.2.3)") == [("a:1.2.3", 1.1)]


def test_break() -> None:
    assert parse_attention("a BREAK b") == [("a", 1.0), ("BREAK", -1.0), ("b", 1.0)]
    assert parse_attention("a, BREAK, b") == [("a,", 1.0), ("BREAK", -1.0), (", b", 1.0)]
    assert parse_attention("(a BREAK b)") == [("a", 1.1), ("BREAK", -1.0 * 1.1), ("b", 1.1)]
    assert parse_attention("BREAKfast break") == [("BREAKfast break", 1.0)]


def test_unicode() -> None:
    assert parse_attention("猫耳, (笑顔:1.2), [星]") == [
        ("猫耳, ", 1.0),
        ("笑顔", 1.2),
        (", ", 1.0),
        ("星", 1 / 1.1),
    ]


def test_very_long_prompt_is_fast() -> None:
    text = ", ".join(f"(tag{i}:1.{i % 9 + 1})" for i in range(5000))
    start = time.perf_counter()
    parsed = parse_attention(text)
    assert time.perf_counter() - start < 2.0
    assert len(parsed) == 2 * 5000 - 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parse_never_raises(text: str) -> None:
    parsed = parse_attention(text)
    assert parsed
    assert all(isinstance(t, str) and isinstance(w, float) for t, w in parsed)


_PIECES = st.sampled_from(
    [
        "a",
        "long hair",
        " ",
        ", ",
        "(",
        ")",
        "[",
        "]",
        ":1.3)",
        ":0.5)",
        ":2)",
        "\\(",
        "\\)",
        "\\\\",
        "\\",
        " BREAK ",
        "BREAK",
        ":",
        "猫",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
def test_weights_stay_positive(text: str) -> None:
    """Without explicit non-positive weights, every weight is positive, BREAK's is -1."""
    for part, weight in parse_attention(text):
        if part == "BREAK" and weight < 0:
            continue
        assert weight > 0, (text, part, weight)


def test_break_entry_is_minus_one_at_top_level() -> None:
    for part, weight in parse_attention("x BREAK y BREAK z"):
        assert weight == (-1.0 if part == "BREAK" else 1.0)


# --- assemble_prompt --------------------------------------------------------------------


def test_constants() -> None:
    assert QUALITY_TAGS[0] == "masterpiece" and QUALITY_TAGS[-1] == "worst quality"
    assert YEAR_TAGS == ("newest", "recent", "mid", "early", "oldest")
    assert AESTHETIC_TAGS == ("very aesthetic", "aesthetic", "displeasing", "very displeasing")


def test_model_card_example(db: TagDatabase) -> None:
    result = assemble_prompt(
        "solo, upper_body, v, smile, looking at viewer, neon genesis evangelion, outdoors, night, "
        "souryuu_asuka_langley, 1girl",
        tags=db,
    )
    assert result.prompt == (
        "1girl, souryuu asuka langley, neon genesis evangelion, solo, upper body, v, smile, "
        "looking at viewer, outdoors, night, masterpiece, best quality, very aesthetic, absurdres"
    )
    assert result.negative == QUALITY_PRESETS["Standard v3.1"].negative


def test_matches_official_app_without_options() -> None:
    prompt, negative = apply_presets("1girl, smile", "blurry", quality="Light v3.1", style="Anime")
    assert assemble_prompt("1girl, smile", "blurry", quality="Light v3.1", style="Anime") == (
        AssembledPrompt(prompt, negative)
    )


def test_special_tags_go_before_the_quality_tags() -> None:
    result = assemble_prompt("1girl, smile", rating=Rating.GENERAL, year="newest", aesthetic="aesthetic")
    assert result.prompt == (
        "1girl, smile, safe, newest, aesthetic, masterpiece, best quality, very aesthetic, absurdres"
    )


def test_explicit_rating_adds_both_tags_once() -> None:
    result = assemble_prompt("1girl", rating=Rating.EXPLICIT, quality="(None)")
    assert result.prompt == "1girl, explicit, nsfw"
    result = assemble_prompt("1girl, nsfw, explicit", rating=Rating.EXPLICIT, quality="(None)")
    assert result.prompt == "1girl, nsfw, explicit"
    result = assemble_prompt("1girl, (nsfw:1.2)", rating=Rating.EXPLICIT, quality="(None)")
    assert result.prompt == "1girl, (nsfw:1.2), explicit"


def test_user_special_tags_are_respected_not_duplicated() -> None:
    result = assemble_prompt("newest, 1girl, masterpiece, safe", year="newest", rating=Rating.GENERAL)
    assert result.prompt == "newest, 1girl, masterpiece, safe, best quality, very aesthetic, absurdres"
    # The quality preset already brings "very aesthetic".
    assert assemble_prompt("1girl", aesthetic="very aesthetic").prompt.count("very aesthetic") == 1


def test_rating_from_policy_replaces_contradicting_user_rating_tags() -> None:
    result = assemble_prompt("1girl, nsfw, explicit, smile", rating=Rating.GENERAL, quality="(None)")
    assert result.prompt == "1girl, smile, safe"
    # Without a rating nothing is decided here.
    assert assemble_prompt("1girl, nsfw", quality="(None)").prompt == "1girl, nsfw"


def test_options_are_validated() -> None:
    with pytest.raises(UnknownOption, match="newest"):
        assemble_prompt("1girl", year="2024")
    with pytest.raises(UnknownOption, match="very aesthetic"):
        assemble_prompt("1girl", aesthetic="pretty")
    with pytest.raises(UnknownOption, match="quality preset"):
        assemble_prompt("1girl", quality="Ultra")
    with pytest.raises(ValueError):
        assemble_prompt("1girl", style="Nope")
    assert "oldest" in assemble_prompt("1girl", year=" Oldest ").prompt
    assert "very displeasing" in assemble_prompt("1girl", aesthetic="very_displeasing").prompt


@pytest.mark.parametrize("prompt", ["", "   ", ", , ,", "()", "[ ]"])
def test_empty_prompt_is_refused(prompt: str) -> None:
    with pytest.raises(EmptyPrompt) as info:
        assemble_prompt(prompt)
    assert isinstance(info.value, ValueError) and "empty" in str(info.value)


def test_only_contradicting_rating_tags_is_empty() -> None:
    with pytest.raises(EmptyPrompt):
        assemble_prompt("nsfw", rating=Rating.GENERAL)


def test_too_long_is_refused_with_the_limit() -> None:
    with pytest.raises(PromptTooLong, match="50"):
        assemble_prompt("a" * 51, max_chars=50)
    with pytest.raises(PromptTooLong, match="negative"):
        assemble_prompt("1girl", "b" * 51, max_chars=50)
    assert issubclass(PromptTooLong, PromptError) and issubclass(PromptError, ValueError)


def test_non_finite_weight_is_refused() -> None:
    with pytest.raises(InvalidWeight):
        assemble_prompt("(smile:" + "9" * 400 + ")")


def test_weights_and_escapes_survive_assembly(db: TagDatabase) -> None:
    result = assemble_prompt(r"(long_hair:1.2), saber_\(fate\), [blue_eyes], 1girl", tags=db, quality="(None)")
    assert result.prompt == r"1girl, saber \(fate\), (long hair:1.2), [blue eyes]"


def test_long_prompt_is_kept_whole(db: TagDatabase) -> None:
    tags = [f"tag{i}" for i in range(150)]
    result = assemble_prompt(", ".join(tags), tags=db, quality="(None)", max_chars=5000)
    assert result.prompt == ", ".join(tags)


def test_user_negative_is_normalised_and_appended() -> None:
    result = assemble_prompt("1girl", "bad_hands, bad hands, extra_digits", quality="(None)")
    assert result.negative == "nsfw, lowres, bad hands, extra digits"


def test_allow_nsfw_drops_preset_nsfw_only_for_nsfw_ratings() -> None:
    standard = QUALITY_PRESETS["Standard v3.1"].negative
    for rating in (Rating.QUESTIONABLE, Rating.EXPLICIT):
        result = assemble_prompt("1girl", rating=rating, allow_nsfw=True, style="Anime")
        parts = result.negative.split(", ")
        assert "nsfw" not in parts
        assert result.negative.startswith("photo, deformed")
        assert result.negative.endswith(standard.removeprefix("nsfw, "))
        assert "nsfw" in result.prompt.split(", ")
    for safe_rating in (None, Rating.GENERAL, Rating.SENSITIVE):
        result = assemble_prompt("1girl", rating=safe_rating, allow_nsfw=True)
        assert result.negative.startswith("nsfw, ")
    # Not allowed by policy: the official negative stays.
    assert assemble_prompt("1girl", rating=Rating.EXPLICIT).negative.startswith("nsfw, ")
    # The user's own negative is theirs.
    result = assemble_prompt("1girl", "nsfw", rating=Rating.EXPLICIT, allow_nsfw=True, quality="(None)")
    assert result.negative == "lowres, nsfw"


def test_light_preset_weighted_group_in_negative_is_kept() -> None:
    result = assemble_prompt("1girl", rating=Rating.EXPLICIT, allow_nsfw=True, quality="Light v3.1")
    assert result.negative.startswith("(low quality, worst quality:1.2), very displeasing")
