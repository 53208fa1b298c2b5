"""Prompt moderation by tag: sexual content in ordinary channels, minors with sexual content anywhere.

Rules (``check``), in this order:

1. Always, whatever the channel or its configuration: a prompt that combines a minor-coded tag
   (``data/minor_tags.txt``) with sexual content is refused. Sexual content is an explicit tag
   (``data/explicit_tags.txt``) in the prompt, a negative-prompt inversion (rule 3), or
   ``sexual_context=True`` - the applied rating is questionable or explicit, which in an
   age-restricted channel asks for sexual content by itself. A minor-coded tag alone is fine.
2. Unless ``allow_sexual`` (the channel's maximum rating is questionable or above): explicit
   tags in the prompt are refused.
3. Unless ``allow_sexual``: pushing toward nudity through negation is refused - a safety tag
   (``data/negative_inversion_tags.txt``: ``clothes``, ``safe``, ``censored`` ...) in the
   negative prompt, a safety tag with a negative weight in the prompt (``(clothes:-1.5)``), or
   an explicit tag with a negative weight in the negative prompt (``(nsfw:-1)`` there).

Which side of a prompt counts: tags in the prompt at a positive weight and tags in the
negative prompt at a negative weight ask *for* something; tags in the prompt at a negative
weight and tags in the negative prompt at a positive weight ask *against* it. A weight of
exactly 0 asks for nothing.

Matching is per tag, never by substring (``sextant``, ``cocktail dress``, ``essex``,
``therapist`` never match). Each prompt is normalised first:

- look-alike characters are folded (``fold_text``): NFKD compatibility decomposition
  (fullwidth letters, ligatures, mathematical alphanumerics, odd spaces), zero-width and other
  invisible format characters and combining marks removed, Cyrillic/Greek/small-capital
  homoglyphs mapped to the Latin letters they imitate;
- the prompt is split the way the bot splits it (``split_tags``), A1111 emphasis is parsed
  with the bot's own parser (weights kept, ``BREAK`` ends a tag, commas inside a weighted group
  ``(a, b:1.2)`` separate tags) and each tag is looked up - case, spaces/underscores and
  Danbooru aliases resolved.

A tag the tag data knows is judged by its canonical name (``cumulonimbus cloud`` is fine), and
also by the listed words inside its name and the alias written (``naked thighhighs`` asks for
``nude``), except where ``data/known_tag_allow.txt`` says the word means something else there
(``covered nipples``). A tag it does not know is free text, and is also searched for listed
tags *as whole words and word sequences* (``1girl nude on beach`` -> ``nude``), as the tag
with all punctuation and spaces removed (``n.u.d.e``, ``nu-de``, ``completely nude`` written
``completelynude``), as runs of single letters (``n u d e``) and with common digit/symbol
substitutions (``nud3``, ``pu$$y``). Words that would over-match inside free text are marked
whole-tag-only in the data files (``=facial``: ``facial expression`` is fine).

On top of that (``moderation.list_rules``): what CLIP reads inside words (``nudegirl``,
``nudeの``, ``nudde``; ``moderation.word_check``), Japanese, Chinese, Korean and romaji words
(``moderation.lexicon``), ages and school years (``moderation.ages``, minors list), and tags
that imply a listed tag (``moderation.implications``, where Danbooru's graph is vendored).
What still passes is measured by ``python -m bench.red_team`` and listed in the README.

The folding is ``moderation.folding``, the forms of one prompt tag ``moderation.tag_forms`` and
the matching of those forms against a list ``moderation.tag_match``; this module holds the rules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from core.text import Message, Text, lines, t
from moderation.ages import minor_ages
from moderation.content_data import ContentData
from moderation.folding import EDGE_PUNCT_RE, dedupe, fold_text, norm_key
from moderation.implications import Implications
from moderation.list_rules import EXPLICIT_INNER, MINOR_INNER, ListRules
from moderation.tag_forms import Tag, free_text_tag, tag_groups
from moderation.tag_match import Index
from moderation.word_check import WordCheck
from prompt.tags import TagDatabase, bare_tag, split_tags

__all__ = [
    "DEFAULT_DATA_DIR",
    "EXPLICIT_FILE",
    "INVERSION_FILE",
    "MINORS_REASON",
    "MINOR_FILE",
    "ContentFilter",
    "ContentVerdict",
    "TagList",
    "fold_text",
    "read_tag_list",
]

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"
EXPLICIT_FILE = "explicit_tags.txt"
MINOR_FILE = "minor_tags.txt"
INVERSION_FILE = "negative_inversion_tags.txt"

MINORS_TEXT = t("Sexual content involving minor-coded characters is never allowed.")
MINORS_REASON = str(MINORS_TEXT)

_MAX_SHOWN = 3
_NEGATIVE_WEIGHT = t("with a negative weight")
_IN_NEGATIVE = t("in the negative prompt")
_NEGATIVE_WEIGHT_IN_NEGATIVE = t("with a negative weight in the negative prompt")


class ContentFilter:
    """Tag-based content checks for prompts; immutable, built once and shared."""

    def __init__(
        self,
        tags: TagDatabase,
        *,
        explicit: frozenset[str],
        minors: frozenset[str],
        inversions: frozenset[str],
        excluded_aliases: frozenset[str] = frozenset(),
        whole_tag_only: frozenset[str] = frozenset(),
        data: ContentData | None = None,
    ) -> None:
        """``explicit``/``minors``/``inversions``: tags of each list (any spelling; aliases are
        resolved). ``excluded_aliases``: written forms that never count as a listed tag even
        though the tag data aliases them to one. ``whole_tag_only``: written forms that count
        only as a whole tag, not as a word inside free text. ``data``: lexicons, implications,
        allow lists and the tokenizer (none but the tokenizer by default)."""
        self._db = tags
        data = data if data is not None else ContentData.empty()
        self._excluded = frozenset(self._written_key(a) for a in excluded_aliases)
        self._whole_only = frozenset(self._written_key(w) for w in whole_tag_only)
        # Romaji entries are words, kept as written: the tag data aliases some of them to
        # unrelated tags (`miseinen`, "minor", to an artist).
        romaji = data.romaji
        self.explicit = self._with_implying(explicit, data.implications) | _words(romaji.words(romaji.explicit))
        self.minors = self._with_implying(minors, data.implications) | _words(romaji.words(romaji.minor))
        self.inversions = frozenset(self.canonicalize_entry(t) for t in inversions) - {""}
        self.inversions |= _words(romaji.words(romaji.inversion))
        self._cjk = data.cjk
        self._explicit = self._list_rules(self.explicit, data, EXPLICIT_INNER, lambda text: data.cjk.find(text)[0])
        self._minors = self._list_rules(self.minors, data, MINOR_INNER, lambda text: data.cjk.find(text)[1], minor_ages)
        self._inversions = Index(tags, self.inversions, self._excluded, self._whole_only)
        # check() and blocked() usually see the same prompt one after the other.
        self._analyse = functools.lru_cache(maxsize=256)(self._analyse_uncached)
        self._unit = functools.lru_cache(maxsize=32768)(self._unit_uncached)
        self._blocklist_index = functools.lru_cache(maxsize=128)(self._build_blocklist_index)

    def _with_implying(self, entries: frozenset[str], implications: Implications) -> frozenset[str]:
        """A list's tags, canonical, and every tag that implies one of them."""
        listed = frozenset(self.canonicalize_entry(t) for t in entries) - {""}
        return listed | frozenset(implications.listed_ancestors(listed))

    def _list_rules(
        self,
        names: frozenset[str],
        data: ContentData,
        inner: frozenset[int],
        lexicon: Callable[[str], list[str]],
        ages: Callable[[str], list[str]] | None = None,
    ) -> ListRules:
        index = Index(self._db, names, self._excluded, self._whole_only)
        listed_words = {w: name for w, name in index.compact_any.items() if w not in self._whole_only}
        return ListRules(
            self._db,
            index,
            inner_categories=inner,
            known_allow=data.known_tag_allow,
            words=WordCheck(data.clip, listed_words, data.word_allow),
            lexicon=lexicon,
            ages=ages,
        )

    def list_rules(self) -> tuple[tuple[str, ListRules], ...]:
        """The sexual-content and minors lists with all their readings (for tools and tests)."""
        return (("explicit", self._explicit), ("minors", self._minors))

    @classmethod
    def load(cls, tags: TagDatabase, data_dir: Path | None = None) -> ContentFilter:
        """Build the filter from the three list files in ``data_dir`` (default: ``moderation/data``)."""
        folder = data_dir if data_dir is not None else DEFAULT_DATA_DIR
        lists = [read_tag_list(folder / name) for name in (EXPLICIT_FILE, MINOR_FILE, INVERSION_FILE)]
        return cls(
            tags,
            explicit=lists[0].tags,
            minors=lists[1].tags,
            inversions=lists[2].tags,
            excluded_aliases=frozenset().union(*(t.excluded for t in lists)),
            whole_tag_only=frozenset().union(*(t.whole_only for t in lists)),
            data=ContentData.load(folder),
        )

    # --- normalisation ----------------------------------------------------------------------

    @staticmethod
    def _written_key(text: str) -> str:
        return norm_key(fold_text(text))

    def _resolve(self, *texts: str) -> tuple[str, str, bool]:
        """(written key, canonical key, known) for the first text the tag data knows."""
        keys = [norm_key(t) for t in texts]
        for key in (*keys, *(EDGE_PUNCT_RE.sub("", k) for k in keys)):
            info = self._db.get(key) if key else None
            if info is not None:
                return key, info.name, True
        return keys[0], keys[0], False

    def canonicalize_entry(self, text: str) -> str:
        """What a moderator typed -> the tag key it is matched by.

        Look-alikes folded, emphasis removed, aliases resolved: ``Long_Hair``, ``(long hair:1.2)``
        and the alias ``longhair`` give ``long_hair``. An unknown tag is kept in normalised form
        (``My  Custom-Tag`` -> ``my_custom-tag``) so it can still be matched.
        """
        folded = fold_text(text).strip()
        if not folded:
            return ""
        return self._resolve(bare_tag(folded), folded.replace("\\", ""))[1]

    def _analyse_uncached(self, text: str) -> tuple[Tag, ...]:
        return tuple(reading.tag for reading in self._readings(text))

    def _readings(self, text: str) -> tuple[Reading, ...]:
        return tuple(reading for unit in split_tags(fold_text(text)) for reading in self._unit(unit))

    def _unit_uncached(self, unit: str) -> tuple[Reading, ...]:
        """The tags of one prompt unit, each with the listed tags it asks for (cached per unit:
        members' prompts share most of their tags)."""
        result: list[Reading] = []
        groups = [g for g in tag_groups(unit) if "".join(p for p, _ in g).strip()]
        for pieces in groups:
            tag_text = " ".join("".join(p for p, _ in pieces).split())
            weights = [(len(p.strip()), w) for p, w in pieces if p.strip()]
            alternatives = [tag_text]
            if len(groups) == 1:  # `saber (fate)` written without escapes
                alternatives.append(unit.replace("\\", ""))
            raw, key, known = self._resolve(*alternatives)
            dominant = max(weights, key=lambda lw: lw[0])[1]
            wmin, wmax = min(w for _, w in weights), max(w for _, w in weights)
            if known:
                tag = Tag(key, raw, True, dominant, wmin, wmax, text=tag_text)
            else:
                tag = free_text_tag(self._db, tag_text, raw, dominant, wmin, wmax)
            inversions = (*self._inversions.match(tag), *self._cjk.find(tag.text)[2])
            result.append(Reading(tag, tuple(self._explicit.match(tag)), tuple(self._minors.match(tag)), inversions))
        return tuple(result)

    def prompt_tags(self, text: str) -> list[tuple[str, float]]:
        """(canonical tag key, weight) for each tag of a prompt, after all normalisation.

        Look-alikes folded, emphasis stripped with its weight kept (a tag whose parts carry
        different weights reports the weight of most of its text), ``BREAK`` dropped, aliases
        resolved; unknown tags in normalised form.
        """
        return [(t.key, t.weight) for t in self._analyse(text)]

    # --- checks ---------------------------------------------------------------------------------

    def check(self, prompt: str, negative: str, *, allow_sexual: bool, sexual_context: bool = False) -> ContentVerdict:
        """Judge a prompt pair for a channel (see the module doc for the rules and their order).

        ``allow_sexual``: the channel's maximum rating is questionable or above.
        ``sexual_context``: the rating applied to this image is questionable or explicit.
        """
        explicit: list[str] = []
        minors: list[str] = []
        inversions: list[tuple[str, Text]] = []  # (tag, where)
        for tag, explicit_hits, minor_hits, inversion_hits in self._readings(prompt):
            if tag.wmax > 0:
                explicit += explicit_hits
                minors += minor_hits
            if tag.wmin < 0:
                inversions += [(t, _NEGATIVE_WEIGHT) for t in inversion_hits]
        for tag, explicit_hits, minor_hits, inversion_hits in self._readings(negative):
            if tag.wmax > 0:
                inversions += [(t, _IN_NEGATIVE) for t in inversion_hits]
            if tag.wmin < 0:
                inversions += [(t, _NEGATIVE_WEIGHT_IN_NEGATIVE) for t in explicit_hits]
                minors += minor_hits

        if minors and (sexual_context or explicit or inversions):
            matched = dedupe([*minors, *explicit, *(t for t, _ in inversions)])
            return ContentVerdict.refused(MINORS_TEXT, matched)
        if not allow_sexual and explicit:
            shown = dedupe(explicit)
            return ContentVerdict.refused(
                t("This channel does not allow sexual content (matched: {tags}).", tags=_show(shown)), shown
            )
        if not allow_sexual and inversions:
            return ContentVerdict.refused(_inversion_reason(inversions), dedupe(t for t, _ in inversions))
        return ContentVerdict(True, None, ())

    def blocked(self, prompt: str, negative: str, blocklist: Iterable[str]) -> tuple[str, ...]:
        """The (canonical) blocklist entries a prompt asks for, in blocklist order.

        Matched exactly like the built-in lists (normalisation, aliases, free-text words). What
        is scanned: the prompt's tags at a positive weight, and the negative prompt's tags at a
        negative weight (a double negation asks for the tag). A blocked tag in the negative
        prompt at a positive weight is not a match: that keeps it out of the image.
        """
        index = self._blocklist_index(tuple(blocklist))
        if not index.names:
            return ()
        found: set[str] = set()
        for tag in self._analyse(prompt):
            if tag.wmax > 0:
                found.update(index.match(tag))
        for tag in self._analyse(negative):
            if tag.wmin < 0:
                found.update(index.match(tag))
        return tuple(e for e in index.order if e in found)

    def _build_blocklist_index(self, entries: tuple[str, ...]) -> Index:
        canonical = dedupe(e for e in (self.canonicalize_entry(x) for x in entries) if e)
        return Index(self._db, frozenset(canonical), frozenset(), frozenset(), order=canonical)


class Reading(NamedTuple):
    """One tag of a prompt and what each list reads in it."""

    tag: Tag
    explicit: tuple[str, ...]
    minors: tuple[str, ...]
    inversions: tuple[str, ...]


@dataclass(frozen=True)
class ContentVerdict:
    """``reason`` is a sentence for the member when refused; ``matched`` the tags that decided it."""

    allowed: bool
    reason: str | None  # in English, as the audit log records it
    matched: tuple[str, ...]
    text: Message | None = None  # the reason, for the member's language

    @classmethod
    def refused(cls, reason: Message, matched: tuple[str, ...]) -> ContentVerdict:
        return cls(False, str(reason), matched, reason)


def _words(entries: frozenset[str]) -> frozenset[str]:
    return frozenset(norm_key(fold_text(e)) for e in entries) - {""}


def _display(tag: str) -> str:
    return tag.replace("_", " ")


def _show(tags: tuple[str, ...]) -> Message:
    shown = ", ".join(f"`{_display(t)}`" for t in tags[:_MAX_SHOWN])
    if len(tags) > _MAX_SHOWN:
        # i18n: {tags} is a list of Danbooru tags in backticks, kept as they are.
        return t("{tags} and {count} more", tags=shown, count=len(tags) - _MAX_SHOWN)
    return shown


def _inversion_reason(inversions: list[tuple[str, Text]]) -> Text:
    pairs = tuple(dict.fromkeys((_display(tag), where) for tag, where in inversions))
    shown: Message = lines(
        # i18n: {where} is one of the phrases "with a negative weight", "in the negative prompt"...
        *(t("`{tag}` {where}", tag=tag, where=where) for tag, where in pairs[:_MAX_SHOWN]),
        separator=", ",
    )
    if len(pairs) > _MAX_SHOWN:
        # i18n: {tags} is a list of Danbooru tags in backticks, kept as they are.
        shown = t("{tags} and {count} more", tags=shown, count=len(pairs) - _MAX_SHOWN)
    return t(
        "This channel does not allow sexual content, and that includes asking for nudity by negating "
        "safety tags (matched: {tags}).",
        tags=shown,
    )


# --- list files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TagList:
    """A parsed list file: its tags, its ``!alias`` exclusions and its ``=word`` markers."""

    tags: frozenset[str]
    excluded: frozenset[str]
    whole_only: frozenset[str]


def read_tag_list(path: Path) -> TagList:
    """Read a list file: one tag a line, ``#`` comments, ``!alias`` and ``=word`` markers.

    ``=word`` marks the written form ``word`` as whole-tag-only and also lists it (listing an
    alias lists its canonical tag, so ``=younger`` just marks an alias of ``aged_down``).
    """
    tags: set[str] = set()
    excluded: set[str] = set()
    whole_only: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if entry.startswith("!"):
            excluded.add(entry[1:].strip())
        elif entry.startswith("="):
            whole_only.add(entry[1:].strip())
            tags.add(entry[1:].strip())
        else:
            tags.add(entry)
    return TagList(frozenset(tags), frozenset(excluded), frozenset(whole_only))
