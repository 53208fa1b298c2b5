from __future__ import annotations

import time

import pytest

from prompt.autocomplete import Choice, TagIndex
from prompt.tags import TagDatabase, TagInfo


@pytest.fixture(scope="module")
def db(tag_db: TagDatabase) -> TagDatabase:
    return tag_db


@pytest.fixture(scope="module")
def index(db: TagDatabase) -> TagIndex:
    return TagIndex.from_database(db)


def _valid(choice: Choice) -> bool:
    return 1 <= len(choice.name) <= 100 and 1 <= len(choice.value) <= 100


def test_at_most_25_choices_ranked_by_post_count(index: TagIndex, db: TagDatabase) -> None:
    choices = index.complete("s")
    assert len(choices) == 25
    counts = []
    for choice in choices:
        info = db.lookup(choice.value)
        assert info is not None
        counts.append(info.post_count)
    assert counts == sorted(counts, reverse=True)
    assert len(index.complete("s", limit=100)) == 25
    assert len(index.complete("s", limit=3)) == 3


def test_prefix_match_completes_the_last_tag(index: TagIndex) -> None:
    choices = index.complete("1girl, lo")
    assert choices[0] == Choice("1girl, long hair", "1girl, long hair")
    assert all(c.value.startswith("1girl, ") for c in choices)
    # Whatever spacing was typed after the comma, one space is used.
    assert index.complete("1girl,lo")[0].value == "1girl, long hair"
    assert index.complete("1girl,    lo")[0].value == "1girl, long hair"
    # Spaces or underscores, any case.
    assert index.complete("LONG_H")[0].value == "long hair"
    assert index.complete("long h")[0].value == "long hair"


def test_alias_match(index: TagIndex) -> None:
    choices = index.complete("boob")
    assert choices[0].value == "breasts"
    assert "boobs" in choices[0].name
    # The canonical name is offered once, even when several aliases match.
    values = [c.value for c in index.complete("asuka langley")]
    assert values.count("souryuu asuka langley") == 1


def test_parentheses_are_escaped_and_series_labelled(index: TagIndex) -> None:
    first = index.complete("saber (f")[0]
    assert first.value == r"saber \(fate\)"
    assert first.name == r"saber \(fate\) · fate (series)"
    # Typing the escaped form works too.
    assert index.complete(r"saber \(f")[0].value == r"saber \(fate\)"
    kaga = next(c for c in index.complete("kaga") if c.value.startswith("kaga \\(kancolle"))
    assert kaga.name.endswith("· kantai collection")
    # No qualifier, no known series: no label.
    assert index.complete("hatsune m")[0].name == "hatsune miku"


def test_emoticons_keep_their_underscore(index: TagIndex) -> None:
    assert [c.value for c in index.complete("^_")][:1] == ["^_^"]
    assert index.complete(">_")[0].value == ">_<"


def test_emphasis_opener_is_kept(index: TagIndex) -> None:
    assert index.complete("1girl, (long_h")[0].value == "1girl, (long hair"
    assert index.complete("[[blue e")[0].value == "[[blue eyes"


@pytest.mark.parametrize("text", ["", "   ", ",", ", , ,", "1girl,", "1girl, ", "(", "zzzzzzqqqq"])
def test_nothing_to_complete(index: TagIndex, text: str) -> None:
    assert index.complete(text) == []


def test_choices_respect_discord_limits(index: TagIndex) -> None:
    head = ", ".join(["long hair"] * 9)  # 97 characters
    assert len(head) == 97
    # Every offered value fits; completions that would not fit are left out.
    choices = index.complete(head + ", l")
    assert choices == []
    prompt = "x" * 80 + ", l"
    choices = index.complete(prompt)
    assert choices and all(_valid(c) for c in choices)
    assert all(len(c.value) <= 100 for c in choices)
    assert all(c.value.startswith("x" * 80 + ", ") for c in choices)
    # A long prompt is shown with its beginning cut, so the completed tag stays visible.
    long_label = index.complete("x" * 70 + ", saber (f")
    assert long_label and all(_valid(c) for c in long_label)
    assert long_label[0].name.startswith("…") and long_label[0].name.endswith("· fate (series)")


def test_prompt_longer_than_100_gives_no_choices(index: TagIndex) -> None:
    assert index.complete("y" * 150 + ", lo") == []
    assert index.complete("z" * 120) == []


def test_long_tags_that_cannot_fit_are_skipped() -> None:
    small = TagDatabase([TagInfo("a" * 120, 0, 100), TagInfo("ab", 0, 1)])
    index = TagIndex.from_database(small)
    assert [c.value for c in index.complete("a")] == ["ab"]


def test_every_choice_is_valid_for_many_queries(index: TagIndex) -> None:
    for text in ("a", "b", "1", "/", "(", "^", "hatsune", "fate", "x" * 60 + ", s", "\\", "::"):
        for choice in index.complete(text):
            assert _valid(choice), (text, choice)


def test_latency_over_the_full_data(index: TagIndex) -> None:
    queries = ["a", "s", "1", "lo", "ha", "sa", "blu", "kan", "hats", "1girl, solo, lo", "x" * 90 + ", l"]
    worst = 0.0
    for q in queries * 5:
        start = time.perf_counter()
        index.complete(q)
        worst = max(worst, time.perf_counter() - start)
    assert worst < 0.05
