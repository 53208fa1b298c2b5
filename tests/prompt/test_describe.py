from __future__ import annotations

import pytest

from prompt.assembly import assemble_prompt
from prompt.describe import Described, describe_prompt, prompt_tag
from prompt.emphasis import parse_attention
from prompt.tags import TagDatabase, split_tags

# The kaomoji SmilingWolf's wd-tagger app writes with their underscore, and a few more.
KAOMOJI = (
    "0_0",
    "(o)_(o)",
    "+_+",
    "+_-",
    "._.",
    "<o>_<o>",
    "<|>_<|>",
    "=_=",
    ">_<",
    "3_3",
    "6_9",
    ">_o",
    "@_@",
    "^_^",
    "o_o",
    "u_u",
    "x_x",
    "|_|",
    "||_||",
    ";_;",
)


@pytest.fixture(scope="module")
def db(tag_db: TagDatabase) -> TagDatabase:
    return tag_db


def test_trained_order_counts_characters_series_then_general_by_confidence(db: TagDatabase) -> None:
    described = describe_prompt(
        characters=[("ram_(re:zero)", 0.88), ("rem_(re:zero)", 0.97)],
        general=[
            ("smile", 0.6),
            ("2girls", 0.95),
            ("maid", 0.91),
            ("multiple_girls", 0.9),
            ("blue_hair", 0.8),
        ],
        tags=db,
    )
    assert described.prompt == (
        r"2girls, multiple girls, rem \(re:zero\), ram \(re:zero\), re:zero kara hajimeru isekai seikatsu, "
        "maid, blue hair, smile"
    )
    assert described.characters == (("rem_(re:zero)", 0.97), ("ram_(re:zero)", 0.88))
    assert described.series == ("re:zero_kara_hajimeru_isekai_seikatsu",)  # once for both characters
    assert described.general == (
        ("2girls", 0.95),
        ("multiple_girls", 0.9),
        ("maid", 0.91),
        ("blue_hair", 0.8),
        ("smile", 0.6),
    )


def test_series_follow_all_characters_in_their_order(db: TagDatabase) -> None:
    described = describe_prompt(
        characters=[("saber_(fate)", 0.9), ("hatsune_miku", 0.95), ("kaga_(azur_lane)", 0.86)],
        general=[("1girl", 0.99)],
        tags=db,
    )
    # hatsune_miku has no qualifier, so the data gives her no series.
    assert described.series == ("fate_(series)", "azur_lane")
    assert described.prompt == r"1girl, hatsune miku, saber \(fate\), kaga \(azur lane\), fate \(series\), azur lane"


def test_a_series_also_tagged_as_general_is_written_once(db: TagDatabase) -> None:
    described = describe_prompt(
        characters=[("kaga_(azur_lane)", 0.9)],
        general=[("azur_lane", 0.7), ("1girl", 0.99), ("animal_ears", 0.8)],
        tags=db,
    )
    assert described.prompt == r"1girl, kaga \(azur lane\), azur lane, animal ears"
    assert described.general == (("1girl", 0.99), ("animal_ears", 0.8))


def test_no_characters_and_no_tags(db: TagDatabase) -> None:
    described = describe_prompt([], [("solo", 0.9), ("1boy", 0.8), ("outdoors", 0.85)], db)
    assert described.prompt == "1boy, solo, outdoors"
    assert described.characters == () and described.series == ()
    assert describe_prompt([], [], db) == Described("", (), (), ())


def test_repeated_names_keep_their_best_confidence(db: TagDatabase) -> None:
    described = describe_prompt([], [("smile", 0.4), ("solo", 0.5), ("smile", 0.9)], db)
    assert described.general == (("smile", 0.9), ("solo", 0.5))
    assert described.prompt == "smile, solo"


def test_equal_confidences_keep_the_tagger_order(db: TagDatabase) -> None:
    described = describe_prompt([], [("b_tag", 0.5), ("a_tag", 0.5), ("c_tag", 0.5)], db)
    assert described.prompt == "b tag, a tag, c tag"


@pytest.mark.parametrize("kaomoji", KAOMOJI)
def test_kaomoji_keep_their_underscore(kaomoji: str, db: TagDatabase) -> None:
    expected = kaomoji.replace("(", r"\(").replace(")", r"\)")
    assert prompt_tag(kaomoji) == expected
    assert describe_prompt([], [("1girl", 0.9), (kaomoji, 0.5)], db).prompt == f"1girl, {expected}"


def test_underscores_become_spaces_and_brackets_are_escaped() -> None:
    assert prompt_tag("long_hair") == "long hair"
    assert prompt_tag("rem_(re:zero)") == r"rem \(re:zero\)"
    assert prompt_tag("2b_(nier:automata)") == r"2b \(nier:automata\)"
    assert prompt_tag("fate/stay_night") == "fate/stay night"
    assert prompt_tag(r"\m/") == r"\\m/"


def test_escaped_prompt_reads_back_as_literal_text(db: TagDatabase) -> None:
    described = describe_prompt(
        [("rem_(re:zero)", 0.9), ("2b_(nier:automata)", 0.87)],
        [("1girl", 0.99), ("(o)_(o)", 0.5), (r"\m/", 0.4), ("^_^", 0.45)],
        db,
    )
    # Every run has weight 1: no tag became emphasis, and the text is the tags themselves.
    parsed = parse_attention(described.prompt)
    assert [weight for _, weight in parsed] == [1.0]
    assert parsed[0][0] == (
        r"1girl, rem (re:zero), 2b (nier:automata), re:zero kara hajimeru isekai seikatsu, nier:automata, "
        r"(o)_(o), ^_^, \m/"
    )


def test_the_prompt_survives_assembly_unchanged(db: TagDatabase) -> None:
    described = describe_prompt(
        [("rem_(re:zero)", 0.95)],
        [("1girl", 0.99), ("maid_headdress", 0.9), ("(o)_(o)", 0.6), ("^_^", 0.5)],
        db,
    )
    assembled = assemble_prompt(described.prompt, tags=db)
    assert split_tags(assembled.prompt)[: len(split_tags(described.prompt))] == split_tags(described.prompt)
    assert assembled.prompt.startswith(
        r"1girl, rem \(re:zero\), re:zero kara hajimeru isekai seikatsu, maid headdress, \(o\)_\(o\), ^_^"
    )
    assert all(weight == 1.0 for _, weight in parse_attention(assembled.prompt))


def test_top_is_the_most_confident_across_characters_and_general(db: TagDatabase) -> None:
    described = describe_prompt(
        [("rem_(re:zero)", 0.92)],
        [("1girl", 0.99), ("maid", 0.95), ("smile", 0.5), ("solo", 0.9)],
        db,
    )
    assert described.top(3) == (("1girl", 0.99), ("maid", 0.95), ("rem_(re:zero)", 0.92))
    assert len(described.top(100)) == 5
    assert described.top(0) == ()
    with pytest.raises(ValueError, match="n must be 0 or more"):
        described.top(-1)
