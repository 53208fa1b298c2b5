from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prompt.emphasis import parse_attention
from prompt.tags import (
    DEFAULT_TAGS_PATH,
    TagCategory,
    TagDatabase,
    TagInfo,
    escape_tag,
    is_count_tag,
    is_emoticon,
    normalize_tag,
    normalize_tags,
    order_tags,
    split_tags,
)


@pytest.fixture(scope="module")
def db(tag_db: TagDatabase) -> TagDatabase:
    return tag_db


def test_vendored_data_and_license_ship_together() -> None:
    assert DEFAULT_TAGS_PATH.is_file()
    license_text = (DEFAULT_TAGS_PATH.parent / "LICENSE-danbooru").read_text(encoding="utf-8")
    assert "MIT License" in license_text


# --- split / normalise ------------------------------------------------------------------


def test_split_trims_and_drops_empty() -> None:
    assert split_tags(" 1girl ,, solo,  , long hair ,") == ["1girl", "solo", "long hair"]
    assert split_tags("") == []
    assert split_tags(" , ,") == []


def test_split_keeps_weighted_groups_whole() -> None:
    assert split_tags("nsfw, (low quality, worst quality:1.2), 3d") == [
        "nsfw",
        "(low quality, worst quality:1.2)",
        "3d",
    ]
    assert split_tags("[a, (b, c)], d") == ["[a, (b, c)]", "d"]


def test_split_keeps_escapes() -> None:
    assert split_tags(r"saber \(fate\), a\,b") == [r"saber \(fate\)", "a\\", "b"]


def test_split_makes_units_self_contained() -> None:
    # A stray closer is literal in A1111; escaped, it stays literal wherever the unit moves.
    assert split_tags(";), smile") == [r";\)", "smile"]
    assert split_tags("a], b") == [r"a\]", "b"]
    # Brackets open at the end are closed there, as A1111 does implicitly.
    assert split_tags("smile, (blue eyes, [red hair") == ["smile", "(blue eyes, [red hair])"]
    # ``(x:1.2`` is x1.1 in A1111 (no closing ``)``), so the added closer must not make it 1.2.
    assert split_tags("(x:1.2") == ["(x:1.2 )"]
    assert parse_attention("(x:1.2 )") == [("x:1.2 ", 1.1)]


def _char_weights(text: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for part, weight in parse_attention(text):
        if part == "BREAK" and weight == -1.0:
            out.append(("BREAK", weight))
            continue
        out.extend((c, weight) for c in part if not c.isspace() and c != ",")
    return out


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab ,()[]:.12\\BREAK_", max_size=40))
def test_split_preserves_a1111_meaning(text: str) -> None:
    """Joining the units reads (ignoring whitespace/commas) exactly like the original."""
    before, after = _char_weights(text), _char_weights(", ".join(split_tags(text)))
    assert [c for c, _ in before] == [c for c, _ in after]
    for (_, w1), (_, w2) in zip(before, after, strict=True):
        assert math.isclose(w1, w2, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("long_hair", "long hair"),
        ("  long__hair ", "long hair"),
        ("(long_hair:1.2)", "(long hair:1.2)"),
        ("[[blue_eyes]]", "[[blue eyes]]"),
        (r"saber_\(fate\)", r"saber \(fate\)"),
        ("^_^", "^_^"),
        (">_<", ">_<"),
        ("o_o", "o_o"),
        ("(>_<:1.3)", "(>_<:1.3)"),
        ("Long_Hair", "Long Hair"),
    ],
)
def test_normalize_tag(raw: str, expected: str) -> None:
    assert normalize_tag(raw) == expected


def test_emoticon_rule() -> None:
    for tag in ("^_^", ">_<", "o_o", "0_0", "@_@", "+_+", "=_=", "|_|", "x_x", "<o>_<o>", "._."):
        assert is_emoticon(tag), tag
    for tag in ("long_hair", "a_b_c", "1girl", "o_o_o", "^^", "blue_eyes"):
        assert not is_emoticon(tag), tag


def test_normalize_tags_dedupes_case_insensitively_keeping_first() -> None:
    assert normalize_tags("long_hair, Long Hair, smile, long hair, SMILE, (smile:1.2)") == [
        "long hair",
        "smile",
        "(smile:1.2)",
    ]


def test_normalize_tags_keeps_every_break() -> None:
    assert normalize_tags("a, BREAK, b, BREAK, c") == ["a", "BREAK", "b", "BREAK", "c"]


def test_normalize_tags_unicode() -> None:
    assert normalize_tags("猫耳, (笑顔:1.2), 猫耳") == ["猫耳", "(笑顔:1.2)"]


# --- database ---------------------------------------------------------------------------


def test_database_loads_everything(db: TagDatabase) -> None:
    assert len(db) > 140_000
    first = next(iter(db))
    assert first.name == "1girl"  # most used first


def test_lookup_by_name_alias_and_through_emphasis(db: TagDatabase) -> None:
    assert db.canonical("long hair") == "long_hair"
    assert db.canonical("long_hair") == "long_hair"
    assert db.canonical("(long_hair:1.2)") == "long_hair"
    assert db.canonical("[[Long Hair]]") == "long_hair"
    assert db.canonical("longhair") == "long_hair"  # alias
    assert db.canonical("boobs") == "breasts"
    assert db.canonical("no such tag at all") is None
    assert db.category("(long_hair:1.2)") == TagCategory.GENERAL
    assert db.category(r"saber \(fate\)") == TagCategory.CHARACTER
    # Written without escapes it is emphasis to A1111, but still the same tag to look up.
    assert db.category("saber (fate)") == TagCategory.CHARACTER
    assert db.category("neon genesis evangelion") == TagCategory.COPYRIGHT
    info = db.lookup("hatsune miku")
    assert info is not None and info.post_count > 100_000


def test_series_of_characters(db: TagDatabase) -> None:
    assert db.series("saber (fate)") == "fate_(series)"
    assert db.series("admiral_(kancolle)") == "kantai_collection"  # qualifier is an alias
    assert db.series("kaga (azur lane)") == "azur_lane"
    assert db.series("hatsune miku") is None  # no qualifier: not in the data
    assert db.series("long hair") is None  # not a character


def test_prompt_form_escapes(db: TagDatabase) -> None:
    info = db.lookup("saber (fate)")
    assert info is not None and info.prompt_form == r"saber \(fate\)"
    assert escape_tag(r"\m/") == r"\\m/"
    assert TagInfo("^_^", 0, 1).prompt_form == "^_^"


def test_load_custom_csv(tmp_path: Path) -> None:
    path = tmp_path / "tags.csv"
    path.write_text('foo_bar,0,10,"fb,foobar"\nbaz,4,5,\nbroken,x,1,\n', encoding="utf-8")
    small = TagDatabase.load(path)
    assert len(small) == 2
    assert small.canonical("fb") == "foo_bar"
    assert small.category("baz") == 4


# --- ordering ---------------------------------------------------------------------------


def test_count_tags() -> None:
    for tag in ("1girl", "2boys", "6+girls", "multiple girls", "multiple_others", "(1girl:1.2)"):
        assert is_count_tag(tag), tag
    assert not is_count_tag("solo")


def test_order_tags_follows_training_order(db: TagDatabase) -> None:
    tags = normalize_tags("smile, neon_genesis_evangelion, solo, (souryuu_asuka_langley:1.2), outdoors, 1girl, 2boys")
    assert order_tags(tags, db) == [
        "1girl",
        "2boys",
        "(souryuu asuka langley:1.2)",
        "neon genesis evangelion",
        "smile",
        "solo",
        "outdoors",
    ]


def test_order_tags_leaves_groups_and_unknown_tags_in_place(db: TagDatabase) -> None:
    tags = ["zzz unknown", "(smile, hatsune miku:1.2)", "hatsune miku"]
    assert order_tags(tags, db) == ["hatsune miku", "zzz unknown", "(smile, hatsune miku:1.2)"]


def test_order_tags_does_not_move_across_break(db: TagDatabase) -> None:
    tags = ["smile", "BREAK", "1girl"]
    assert order_tags(tags, db) == tags
