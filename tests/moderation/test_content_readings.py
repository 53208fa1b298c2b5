"""The content rules' readings beyond the lists' own words (issue 24): what CLIP reads, listed
words inside known tags, Danbooru's implications, ages, and Japanese/Chinese/Korean words."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from pathlib import Path

import pytest

from moderation.ages import minor_ages
from moderation.clip_tokens import BPE_PATH, VOCAB_SIZE, ClipWords, build_tokenizer
from moderation.content import DEFAULT_DATA_DIR, EXPLICIT_FILE, INVERSION_FILE, MINOR_FILE, ContentFilter
from moderation.content_data import ContentData
from moderation.implications import Implications, read_implications
from moderation.lexicon import CjkLexicon, LexiconFile, read_lexicon
from moderation.word_check import collapsed, swapped
from prompt.tags import TagDatabase


def _ordinary(content: ContentFilter, prompt: str, negative: str = "") -> tuple[str, ...]:
    verdict = content.check(prompt, negative, allow_sexual=False)
    return () if verdict.allowed else verdict.matched


def _age_restricted_refused(content: ContentFilter, prompt: str) -> bool:
    return not content.check(prompt, "", allow_sexual=True, sexual_context=True).allowed


# --- the tokenizer ---------------------------------------------------------------------------


def test_the_vendored_tokenizer_is_clips(tmp_path: Path) -> None:
    """The same ids as transformers' CLIPTokenizer reading the same vocabulary and merges (what
    diffusers loads for SDXL's tokenizer and tokenizer_2)."""
    from transformers import CLIPTokenizer

    tokenizer = build_tokenizer()
    assert tokenizer.get_vocab_size() == VOCAB_SIZE
    (tmp_path / "vocab.json").write_text(json.dumps(tokenizer.get_vocab()), encoding="utf-8")
    with gzip.open(BPE_PATH, "rt", encoding="utf-8") as fh:
        merges = fh.read().split("\n")[1 : VOCAB_SIZE - 2 * 256 - 2 + 1]
    (tmp_path / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    reference = CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    for text in ("masterpiece, 1girl, (long hair:1.2), BREAK", "nudegirl 裸の女の子 Ｆｕｌｌ", "8yo, sextant's"):
        assert (
            tokenizer.encode(text, add_special_tokens=False).ids
            == reference(text, add_special_tokens=False)["input_ids"]
        )


def test_clip_words_are_the_tokenizers_own_tokens() -> None:
    """Words through the BPE model alone give what a whole encode gives them."""
    clip = ClipWords()
    tokenizer = build_tokenizer()
    for text in ("nudegirl", "sextant", "hatsune", "toplessgirl", "pussyy"):
        (word,) = clip.words(text)
        whole = [t.removesuffix("</w>") for t in tokenizer.encode(text, add_special_tokens=False).tokens]
        assert list(word.pieces) == whole
    assert [(w.text, w.pieces[:2]) for w in clip.words("1girl, nudeの girl")] == [
        ("girl", ("girl",)),
        ("nudeの", ("nu", "de")),
        ("girl", ("girl",)),
    ]


# --- kind 3: what the text encoder reads -------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "matched"),
    [
        ("1girl, nudegirl", "nude"),  # glued: CLIP reads nu|de|girl
        ("1girl, girlhentai", "hentai"),
        ("1girl, nudeの女の子", "nude"),  # glued to Japanese
        ("1girl, девушкаnude", "nude"),  # glued to Cyrillic
        ("1girl, toplessgirl", "topless"),  # starts with a listed word
        ("1girl, nudeness", "nude"),  # a suffix
        ("1girl, sexted", "sex"),
        ("1girl, nudde", "nude"),  # a doubled letter
        ("1girl, pussyy", "pussy"),
        ("1girl, nuddegirl", "nude"),
        ("1girl, ndue", "nude"),  # two letters swapped
        ("1girl, NuDeGiRl", "nude"),  # case
        ("1boy, cumming", "cum"),  # a short listed word with an ending
        ("1boy, testicle", "testicles"),  # a singular
    ],
)
def test_words_the_encoder_still_reads_are_refused(content_filter: ContentFilter, prompt: str, matched: str) -> None:
    assert matched in _ordinary(content_filter, prompt)


@pytest.mark.parametrize(
    "prompt",
    [
        "1girl, sextant, cocktail, analogy, scrape",
        "1girl, under the sea, thunder, underwear, undertale",
        "1girl, lollipop, pussycat, childhood, teensy",
        "1girl, shuttlecock, hitchcock, wessex, uranus",
        "futaba anzu, futago, futari",
    ],
)
def test_allowed_words_are_not_read_as_listed(content_filter: ContentFilter, prompt: str) -> None:
    assert _ordinary(content_filter, prompt) == ()


def test_misspellings() -> None:
    assert list(collapsed("nudde")) == ["nude"]
    assert "nude" in list(swapped("ndue"))


# --- kind 2: a known tag judged by more than its canonical name ---------------------------------


@pytest.mark.parametrize(
    ("prompt", "matched"),
    [
        ("1girl, naked thighhighs", "nude"),  # an alias of `thighhighs` that asks for nudity
        ("1girl, cum in panties", "cum"),  # a tag not listed, holding a listed word
        ("1girl, public masturbation", "masturbation"),
        ("1girl, cumdump", "cum"),  # one word with a listed one inside
        ("1boy, testicle grab", "testicles"),  # a singular the tag data lacks
    ],
)
def test_listed_words_inside_known_tags(content_filter: ContentFilter, prompt: str, matched: str) -> None:
    assert matched in _ordinary(content_filter, prompt)


@pytest.mark.parametrize(
    "prompt",
    ["1girl, covered nipples", "topless male", "censored text", "child's drawing", "annie (destiny child)"],
)
def test_known_tags_where_the_word_means_something_else(content_filter: ContentFilter, prompt: str) -> None:
    assert _ordinary(content_filter, prompt) == ()


def test_character_names_count_for_minors_series_and_artists_do_not(content_filter: ContentFilter) -> None:
    assert _age_restricted_refused(content_filter, "child gilgamesh (fate), nude")
    assert not _age_restricted_refused(content_filter, "annie (destiny child), nude")
    assert not _age_restricted_refused(content_filter, "tifa lockhart, final fantasy vii advent children, nude")


# --- kind 1: implications ----------------------------------------------------------------------


def _small_filter(tag_db: TagDatabase, data: ContentData | None = None) -> ContentFilter:
    """A filter with short lists of its own and the given data."""
    return ContentFilter(
        tag_db,
        explicit=frozenset({"fellatio", "nude"}),
        minors=frozenset({"loli"}),
        inversions=frozenset({"clothes"}),
        data=data,
    )


def test_a_tag_that_implies_a_listed_tag_is_that_tag(tag_db: TagDatabase, tmp_path: Path) -> None:
    csv_path = tmp_path / "implications.csv"
    csv_path.write_text(
        "id,antecedent_name,consequent_name,status\n"
        "1,irrumatio,fellatio,active\n"
        "2,deep_throat_chain,irrumatio,active\n"  # followed through a chain
        "3,smile,fellatio,deleted\n",  # only active rows
        encoding="utf-8",
    )
    graph = read_implications(csv_path)
    assert graph == {"irrumatio": ("fellatio",), "deep_throat_chain": ("irrumatio",)}
    data = ContentData.empty()
    content = _small_filter(tag_db, replace(data, implications=Implications(graph)))
    assert "irrumatio" in _ordinary(content, "1girl, irrumatio")
    assert "deep_throat_chain" in _ordinary(content, "1girl, deep throat chain")
    assert _ordinary(content, "1girl, smile") == ()
    without = _small_filter(tag_db)
    assert _ordinary(without, "1girl, irrumatio") == ()


def test_implication_cycles_end() -> None:
    assert Implications({"a": ["b"], "b": ["a", "c"]}).implied("a") == frozenset({"a", "b", "c"})


def test_an_implication_file_without_its_columns_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("from,to\na,b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="antecedent_name"):
        read_implications(bad)


# --- kind 5: ages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["8yo", "12 y/o", "10 years old", "ten-year-old", "aged 9", "3rd grader", "grade 5", "seventeen years old",
     "8歳", "十歳", "小学3年生", "中2", "6年生", "8岁", "12歲", "初二", "三年级", "8살", "열두 살", "12세",
     "초등학교 3학년", "hassai", "juuni-sai", "jussai", "8sai", "shougaku sannensei", "chuugakusei"],
)  # fmt: skip
def test_ages_below_18(text: str) -> None:
    assert minor_ages(text)


@pytest.mark.parametrize(
    "text",
    ["18yo", "20 years old", "20歳", "二十歳", "25살", "30岁", "ten years later", "1000 years old", "中二病",
     "이 세 명", "고등학교 2학년", "小三", "3年生", "nijuusai", "issai", "sansai", "yosai"],
)  # fmt: skip
def test_adults_and_other_numbers_are_not_ages_of_children(text: str) -> None:
    assert minor_ages(text) == []


def test_an_age_with_sexual_content_is_refused_everywhere(content_filter: ContentFilter) -> None:
    assert _age_restricted_refused(content_filter, "1girl, 8yo, nude")
    assert _age_restricted_refused(content_filter, "1girl, 12歳")  # an explicit rating is sexual by itself
    assert not content_filter.check("1girl, 8yo, smile, kite", "", allow_sexual=False).matched
    assert not _age_restricted_refused(content_filter, "1girl, 25yo, nude")


# --- kind 4: Japanese, Chinese, Korean, romaji --------------------------------------------------


def test_cjk_entries_are_found_inside_words_except_in_allowed_compounds(tmp_path: Path) -> None:
    (tmp_path / "ja.txt").write_text("# test\n[explicit]\n裸\n[minor]\n幼女\n[allow]\n裸眼\n裸足\n", encoding="utf-8")
    lexicon = CjkLexicon.load(tmp_path)
    assert lexicon.find("全裸の幼女") == (["裸"], ["幼女"], [])
    assert lexicon.find("裸眼で見る、裸足") == ([], [], [])
    assert lexicon.find("裸足で裸") == (["裸"], [], [])
    assert lexicon.find("plain ascii") == ([], [], [])


def test_whole_tag_entries_count_only_as_the_whole_tag(tmp_path: Path) -> None:
    (tmp_path / "ko.txt").write_text("[explicit]\n=보지\n[inversion]\n옷\n", encoding="utf-8")
    lexicon = CjkLexicon.load(tmp_path)
    assert lexicon.find("보지")[0] == ["보지"]
    assert lexicon.find(" 보지 ")[0] == ["보지"]
    assert lexicon.find("그림을 보지 않았다")[0] == []  # "did not look at the picture"
    assert lexicon.find("바라보지")[0] == []
    assert lexicon.find("옷, 속옷")[2] == ["옷", "옷"]


def test_safety_words_of_other_languages_in_the_negative_prompt_ask_for_nudity(tag_db: TagDatabase) -> None:
    data = ContentData.empty()
    cjk = CjkLexicon([LexiconFile(frozenset(), frozenset(), frozenset(), frozenset({"服", "下着"}))])
    content = _small_filter(tag_db, replace(data, cjk=cjk))
    assert _ordinary(content, "1girl, 立ち絵", "服, 下着, lowres") == ("服", "下着")
    assert _ordinary(content, "1girl, 服", "lowres") == ()  # asked for, not negated
    assert content.check("1girl, 立ち絵", "服", allow_sexual=True).allowed


def test_half_width_katakana_is_folded_like_the_prompt(tmp_path: Path) -> None:
    (tmp_path / "ja.txt").write_text("[minor]\nロリ\n", encoding="utf-8")
    from moderation.folding import fold_text

    assert CjkLexicon.load(tmp_path).find(fold_text("ﾛﾘ"))[1] == ["ロリ"]


def test_a_lexicon_line_outside_a_section_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ko.txt"
    path.write_text("알몸\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"ko.txt:1"):
        read_lexicon(path)
    path.write_text("[rude]\n알몸\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown section"):
        read_lexicon(path)


def test_romaji_words_join_the_english_lists(tag_db: TagDatabase) -> None:
    data = ContentData.empty()
    romaji = LexiconFile(frozenset({"hadaka"}), frozenset({"youjo"}), frozenset())
    content = _small_filter(tag_db, replace(data, romaji=romaji))
    assert "hadaka" in _ordinary(content, "1girl, hadaka")
    assert "hadaka" in _ordinary(content, "1girl, hadakagirl")  # and CLIP's reading of them
    assert _age_restricted_refused(content, "youjo, smile")


@pytest.mark.skipif(not (DEFAULT_DATA_DIR / "lexicon" / "ja.txt").is_file(), reason="lexicons not vendored")
@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ("1girl, 全裸", "explicit"),
        ("1girl, 裸体", "explicit"),
        ("1girl, 알몸", "explicit"),
        ("1girl, 裸體", "explicit"),
    ],
)
def test_the_shipped_lexicons_refuse_sexual_words(content_filter: ContentFilter, prompt: str, kind: str) -> None:
    assert _ordinary(content_filter, prompt)


@pytest.mark.parametrize("prompt", ["1girl, 裸足, 裸眼", "1girl, 少女, 笑顔", "1girl, 牛乳", "소녀, 웃음"])
def test_the_shipped_lexicons_allow_harmless_compounds(content_filter: ContentFilter, prompt: str) -> None:
    assert _ordinary(content_filter, prompt) == ()
    assert not _age_restricted_refused(content_filter, prompt.replace("1girl", "1girl, nude"))


def test_the_list_files_still_load_from_a_folder_of_their_own(tag_db: TagDatabase, tmp_path: Path) -> None:
    for name, text in ((EXPLICIT_FILE, "nude\n"), (MINOR_FILE, "loli\n"), (INVERSION_FILE, "clothes\n")):
        (tmp_path / name).write_text(text, encoding="utf-8")
    content = ContentFilter.load(tag_db, tmp_path)
    assert "nude" in _ordinary(content, "1girl, nudegirl")
