"""Unit tests of moderation.content: the list files, normalisation and the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from moderation.content import (
    DEFAULT_DATA_DIR,
    EXPLICIT_FILE,
    INVERSION_FILE,
    MINOR_FILE,
    MINORS_REASON,
    ContentFilter,
    fold_text,
    read_tag_list,
)
from prompt.presets import QUALITY_PRESETS, STYLE_PRESETS
from prompt.tags import TagDatabase

# Words in the lists that are not Danbooru tags (nor aliases). Adding one to a list file
# means adding it here too, on purpose.
NON_DANBOORU: dict[str, frozenset[str]] = {
    EXPLICIT_FILE: frozenset(
        """nsfw explicit questionable hentai porn porno r-18 r18 r-18g r18g xxx lewd ecchi erotic
        erotica smut hardcore sexual nudity nudes no_clothes without_clothes unclothed breast_out
        bare_breasts exposed_breasts areola areolae labia genitals genitalia creampie intercourse
        coitus penetration""".split()  # noqa: SIM905
    ),
    MINOR_FILE: frozenset(
        """young kid lolis shotas shotacon toddlers babies infant newborn preteen teen teenage teenager
        underage little_girl little_boy young_girl young_boy schoolchild schoolchildren
        elementary_school elementary_schooler elementary_school_student middle_school
        middle_schooler middle_school_student junior_high_school_student kindergartener jailbait female_child
        male_child kindergartner grade_schooler""".split()  # noqa: SIM905
    ),
    INVERSION_FILE: frozenset(
        """clothing clothed fully_clothed dressed wearing_clothes safe sfw general rating:safe
        rating:general""".split()  # noqa: SIM905
    ),
}
LIST_FILES = (EXPLICIT_FILE, MINOR_FILE, INVERSION_FILE)


def _entries(name: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in (DEFAULT_DATA_DIR / name).read_text().splitlines()]


# --- the list files -------------------------------------------------------------------------


@pytest.mark.parametrize("name", LIST_FILES)
def test_every_entry_is_a_canonical_tag_or_an_allowed_word(tag_db: TagDatabase, name: str) -> None:
    problems = []
    for entry in _entries(name):
        if not entry or entry[0] in "!=":
            continue
        info = tag_db.get(entry)
        if info is None:
            if entry not in NON_DANBOORU[name]:
                problems.append(f"{entry}: not in the tag data and not in the allow-list")
        elif info.name != entry:
            problems.append(f"{entry}: an alias; write the canonical {info.name}")
        elif entry in NON_DANBOORU[name]:
            problems.append(f"{entry}: in the tag data, remove it from the allow-list")
    assert problems == []


@pytest.mark.parametrize("name", LIST_FILES)
def test_allow_list_words_are_in_the_file(name: str) -> None:
    written = {e.lstrip("=") for e in _entries(name)}
    assert NON_DANBOORU[name] <= written


@pytest.mark.parametrize("name", LIST_FILES)
def test_no_duplicates_and_markers_point_at_listed_tags(tag_db: TagDatabase, name: str) -> None:
    entries = [e for e in _entries(name) if e]
    plain = [e.lstrip("=") for e in entries if not e.startswith("!")]
    assert len(plain) == len(set(plain))
    listed = set(plain)
    for entry in entries:
        if entry.startswith("!"):  # an alias of a listed tag
            info = tag_db.get(entry[1:])
            assert info is not None and info.name != entry[1:] and info.name in listed, entry
        elif entry.startswith("="):  # a listed tag, a non-tag word or an alias of a listed tag
            info = tag_db.get(entry[1:])
            assert info is None or info.name in listed or info.name == entry[1:], entry


def test_list_sizes(content_filter: ContentFilter) -> None:
    assert len(content_filter.explicit) >= 300
    assert len(content_filter.minors) >= 50
    assert len(content_filter.inversions) >= 15
    # The minors rule must not be switched off by an empty or missing list.
    assert {"loli", "shota", "child", "toddler", "aged_down"} <= content_filter.minors
    assert {"nsfw", "nude", "sex", "penis", "pussy", "nipples", "cum"} <= content_filter.explicit


def test_read_tag_list_markers(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("# header\nnude  # inline comment\n\n!naked\n=facial\n", encoding="utf-8")
    parsed = read_tag_list(path)
    assert parsed.tags == {"nude", "facial"}
    assert parsed.excluded == {"naked"}
    assert parsed.whole_only == {"facial"}


def test_load_from_another_folder(tag_db: TagDatabase, tmp_path: Path) -> None:
    (tmp_path / EXPLICIT_FILE).write_text("nude\n")
    (tmp_path / MINOR_FILE).write_text("child\n")
    (tmp_path / INVERSION_FILE).write_text("clothes\n")
    custom = ContentFilter.load(tag_db, tmp_path)
    assert custom.explicit == {"nude"}
    assert not custom.check("naked", "", allow_sexual=False).allowed  # alias resolved
    assert custom.check("penis", "", allow_sexual=False).allowed


def test_constructor_canonicalises_the_sets(tag_db: TagDatabase) -> None:
    built = ContentFilter(tag_db, explicit=frozenset({"Naked"}), minors=frozenset({"kids"}), inversions=frozenset())
    assert built.explicit == {"nude"}
    assert built.minors == {"child"}


# --- normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("nude", "nude"),
        ("ｎｕｄｅ", "nude"),  # fullwidth
        ("nu\u200bde", "nude"),  # zero-width space
        ("n\u200du\u200cd\u2060e\ufeff", "nude"),  # joiners, word joiner, BOM
        ("nu\u00adde", "nude"),  # soft hyphen
        ("nüdé", "nude"),  # precomposed accents
        ("nu\u0308de\u0301", "nude"),  # combining marks
        ("nudе", "nude"),  # Cyrillic е
        ("ΝUDΕ", "NUDE"),  # Greek capitals
        ("ⓝⓤⓓⓔ", "nude"),  # circled letters
        ("𝐧𝐮𝐝𝐞", "nude"),  # mathematical bold
        ("ｓｅｘ\u3000girl", "sex girl"),  # ideographic space
        ("ᴄᴜᴍ", "cum"),  # small capitals
        ("ガンダム", "ガンダム"),  # kana voicing marks survive
    ],
)
def test_fold_text(text: str, folded: str) -> None:
    assert fold_text(text) == folded


def test_prompt_tags(content_filter: ContentFilter) -> None:
    tags = content_filter.prompt_tags("1girl, (Long_Hair:1.2), [[nsfw]], naked, ｓｍｉｌｅ, saber \\(fate\\) BREAK sky")
    assert [k for k, _ in tags] == ["1girl", "long_hair", "nsfw", "nude", "smile", "saber_(fate)", "sky"]
    weights = dict(tags)
    assert weights["long_hair"] == pytest.approx(1.2)
    assert weights["nsfw"] == pytest.approx(1 / 1.21)
    assert weights["1girl"] == 1.0


def test_prompt_tags_split_weighted_groups_and_keep_negative_weights(content_filter: ContentFilter) -> None:
    assert content_filter.prompt_tags("(low quality, worst quality:1.2), (clothes:-1.5)") == [
        ("low_quality", 1.2),
        ("worst_quality", 1.2),
        ("clothes", -1.5),
    ]


@pytest.mark.parametrize(
    ("entry", "canonical"),
    [
        ("Long_Hair", "long_hair"),
        ("long hair", "long_hair"),
        ("longhair", "long_hair"),  # alias
        ("(long hair:1.2)", "long_hair"),
        ("  LONG   HAIR ", "long_hair"),
        ("ｌｏｎｇ ｈａｉｒ", "long_hair"),
        ("saber (fate)", "saber_(fate)"),
        ("saber \\(fate\\)", "saber_(fate)"),
        ("My  Custom-Tag", "my_custom-tag"),  # unknown: kept, normalised
        ("", ""),
    ],
)
def test_canonicalize_entry(content_filter: ContentFilter, entry: str, canonical: str) -> None:
    assert content_filter.canonicalize_entry(entry) == canonical


# --- rules ----------------------------------------------------------------------------------

ALLOWED_IN_ORDINARY_CHANNELS = [
    "sextant",
    "cocktail dress",
    "cocktail",
    "essex",
    "scunthorpe",
    "analog clock",
    "assassin",
    "grape",
    "therapist",
    "the rapist",  # two words, neither listed
    "cumulonimbus cloud",
    "shota",  # minor-coded alone
    "loli",
    "1girl, child, park",
    "child, park, smile",
    "1girl, covered nipples",  # sensitive, not explicit
    "topless male, beach",
    "1girl, swimsuit, cleavage, pantyshot",  # sensitive
    "facial expression, smile",
    "flashing lights, concert",
    "baby blue hair, smile",
    "public, park",  # `public` is an alias of public_indecency, excluded
    "1boy, balls, beach",  # `balls` is an alias of testicles, excluded
    "(nsfw:0)",  # weight 0 asks for nothing
    "(nude:-1), 1girl",  # pushing away from nudity
    "1girl, cucumber, cumin, scum, document",
    "sussex, middlesex, sexagon",
    "therapist office, analyst",
    "(masterpiece:1.2), 1girl, solo, long hair, looking at viewer, smile",
    "hot spring, steam",
]


@pytest.mark.parametrize("prompt", ALLOWED_IN_ORDINARY_CHANNELS)
def test_no_false_positives(content_filter: ContentFilter, prompt: str) -> None:
    verdict = content_filter.check(prompt, "nsfw, lowres", allow_sexual=False)
    assert verdict.allowed, verdict
    assert verdict.reason is None and verdict.matched == ()


@pytest.mark.parametrize(("quality", "style"), [(q, s) for q in QUALITY_PRESETS for s in STYLE_PRESETS])
def test_official_preset_negatives_pass(content_filter: ContentFilter, quality: str, style: str) -> None:
    negative = ", ".join(p for p in (QUALITY_PRESETS[quality].negative, STYLE_PRESETS[style].negative) if p)
    prompt = STYLE_PRESETS[style].apply(QUALITY_PRESETS[quality].apply("1girl, child, park"))
    assert content_filter.check(prompt, negative, allow_sexual=False).allowed


@pytest.mark.parametrize(
    ("prompt", "negative", "matched"),
    [
        ("1girl, nude", "", ("nude",)),
        ("1girl, naked", "", ("nude",)),  # alias
        ("1girl, Completely_Nude", "", ("completely_nude",)),
        ("(nude:1.3)", "", ("nude",)),
        ("[[nsfw]]", "", ("nsfw",)),
        ("1girl, blowjob", "", ("fellatio",)),
        ("1girl, nude on the beach", "", ("nude",)),
        ("1girl, facial", "", ("facial",)),  # whole tag
        ("1girl, r-18", "", ("r-18",)),
        ("twitching penis", "", ("twitching_penis",)),
    ],
)
def test_explicit_refused_in_ordinary_channels(
    content_filter: ContentFilter, prompt: str, negative: str, matched: tuple[str, ...]
) -> None:
    verdict = content_filter.check(prompt, negative, allow_sexual=False)
    assert not verdict.allowed
    assert verdict.matched == matched
    shown = ", ".join(f"`{m.replace('_', ' ')}`" for m in matched)
    assert verdict.reason == f"This channel does not allow sexual content (matched: {shown})."
    assert content_filter.check(prompt, negative, allow_sexual=True, sexual_context=True).allowed


def test_reason_shows_at_most_three_tags(content_filter: ContentFilter) -> None:
    verdict = content_filter.check("nude, sex, cum, penis, pussy", "", allow_sexual=False)
    assert verdict.matched == ("nude", "sex", "cum", "penis", "pussy")
    assert verdict.reason == "This channel does not allow sexual content (matched: `nude`, `sex`, `cum` and 2 more)."


@pytest.mark.parametrize(
    ("prompt", "negative", "where"),
    [
        ("1girl", "clothes", "`clothes` in the negative prompt"),
        ("1girl", "nsfw, lowres, Clothed", "`clothed` in the negative prompt"),
        ("1girl", "(mosaic censoring:1.2)", "`mosaic censoring` in the negative prompt"),
        ("1girl", "censor bar", "`bar censor` in the negative prompt"),  # alias
        ("1girl, (clothes:-1.5)", "", "`clothes` with a negative weight"),
        ("1girl, (safe:-1)", "", "`safe` with a negative weight"),
        ("1girl", "(nsfw:-1)", "`nsfw` with a negative weight in the negative prompt"),
    ],
)
def test_negative_inversions_refused_in_ordinary_channels(
    content_filter: ContentFilter, prompt: str, negative: str, where: str
) -> None:
    verdict = content_filter.check(prompt, negative, allow_sexual=False)
    assert not verdict.allowed
    assert verdict.reason is not None and where in verdict.reason
    assert content_filter.check(prompt, negative, allow_sexual=True).allowed


@pytest.mark.parametrize(
    ("prompt", "negative"),
    [
        ("1girl", "dress, shirt, bikini, underwear, panties, bra"),  # garments: ordinary reasons
        ("1girl", "covered nipples"),  # makes images safer
        ("1girl", "nsfw, nude, child, loli"),  # keeping things out is the point of a negative
        ("1girl, (clothes:0)", ""),
        ("1girl, (clothes:0.5)", ""),
        ("1girl", "(clothes:-1)"),  # double negation: asks for clothes
    ],
)
def test_harmless_negatives(content_filter: ContentFilter, prompt: str, negative: str) -> None:
    assert content_filter.check(prompt, negative, allow_sexual=False).allowed


@pytest.mark.parametrize("allow_sexual", [False, True])
@pytest.mark.parametrize(
    ("prompt", "negative"),
    [
        ("loli, nude", ""),
        ("1girl, child, sex", ""),
        ("shota, (cum:0.8)", ""),
        ("kids, naked", ""),  # aliases on both sides
        ("1girl, aged down, pussy", ""),
        ("younger, nsfw", ""),
        ("toddler, explicit", ""),
        ("elementary school student, lewd", ""),
        ("child", "clothes"),  # inversion counts as sexual
        ("child, (clothes:-1)", ""),
        ("young, hentai", ""),
    ],
)
def test_minors_with_sexual_content_refused_everywhere(
    content_filter: ContentFilter, prompt: str, negative: str, allow_sexual: bool
) -> None:
    verdict = content_filter.check(prompt, negative, allow_sexual=allow_sexual)
    assert not verdict.allowed
    assert verdict.reason == MINORS_REASON


@pytest.mark.parametrize("prompt", ["1girl, child, park", "shota, smile", "loli", "toddler, toy", "1girl, young"])
def test_minors_in_a_sexual_context_refused(content_filter: ContentFilter, prompt: str) -> None:
    assert content_filter.check(prompt, "", allow_sexual=True, sexual_context=False).allowed
    verdict = content_filter.check(prompt, "", allow_sexual=True, sexual_context=True)
    assert not verdict.allowed and verdict.reason == MINORS_REASON
    # sexual_context decides even where the channel is ordinary.
    assert not content_filter.check(prompt, "", allow_sexual=False, sexual_context=True).allowed


def test_minors_rule_comes_first(content_filter: ContentFilter) -> None:
    verdict = content_filter.check("loli, nude", "clothes", allow_sexual=False)
    assert verdict.reason == MINORS_REASON
    assert {"loli", "nude", "clothes"} <= set(verdict.matched)


def test_minor_reason_does_not_echo_the_prompt(content_filter: ContentFilter) -> None:
    verdict = content_filter.check("l.o.l.i, n.u.d.e", "", allow_sexual=True)
    assert verdict.reason == MINORS_REASON


@pytest.mark.parametrize(
    ("prompt", "sexual_context"),
    [("young woman, nude", False), ("1girl, baby blue hair, nude", False), ("1girl, child's drawing", True)],
)
def test_minor_words_inside_other_phrases(content_filter: ContentFilter, prompt: str, sexual_context: bool) -> None:
    # `young` and `baby` are whole-tag-only (`=young`): as words of free text they do not count;
    # a known tag such as `child's drawing` is judged by its own name.
    assert content_filter.check(prompt, "", allow_sexual=True, sexual_context=sexual_context).allowed


def test_minors_in_the_negative_prompt_are_fine(content_filter: ContentFilter) -> None:
    assert content_filter.check("1girl, nude", "child, loli, aged down", allow_sexual=True, sexual_context=True).allowed
    # ...unless negatively weighted there: that asks for them.
    verdict = content_filter.check("1girl, nude", "(child:-1)", allow_sexual=True, sexual_context=True)
    assert verdict.reason == MINORS_REASON


# --- blocklists -----------------------------------------------------------------------------


def test_blocked_matches_tags_not_substrings(content_filter: ContentFilter) -> None:
    blocklist = ["Long_Hair", "red eyes", "cat"]
    assert content_filter.blocked("1girl, longhair, smile", "", blocklist) == ("long_hair",)
    assert content_filter.blocked("(LONG HAIR:1.3), ｒｅｄ ｅｙｅｓ", "", blocklist) == ("long_hair", "red_eyes")
    assert content_filter.blocked("catgirl, cat ears, concatenate", "", blocklist) == ()
    assert content_filter.blocked("a cat on a roof", "", blocklist) == ("cat",)  # a word of free text


def test_blocked_scans_the_prompt_and_double_negations_only(content_filter: ContentFilter) -> None:
    blocklist = ["long hair"]
    assert content_filter.blocked("1girl", "long hair", blocklist) == ()
    assert content_filter.blocked("(long hair:-1)", "", blocklist) == ()
    assert content_filter.blocked("1girl", "(long hair:-1)", blocklist) == ("long_hair",)
    assert content_filter.blocked("1girl", "", []) == ()


def test_blocked_unknown_entries(content_filter: ContentFilter) -> None:
    blocklist = ["My Custom-Tag", "zzyzx"]
    assert content_filter.blocked("z.z.y.z.x", "", blocklist) == ("zzyzx",)
    assert content_filter.blocked("my custom tag", "", blocklist) == ("my_custom-tag",)  # squeezed form
    assert content_filter.blocked("my_custom-tag", "", blocklist) == ("my_custom-tag",)
