"""One built-in list (sexual content, or minors) read in every way a prompt tag can ask for it.

On top of the list's own ``Index`` (canonical names, aliases, free-text words, squeezed forms):

- **inside a known tag's name**: a tag the tag data knows, under the name written or its
  canonical one, is searched for listed words (``naked_thighhighs`` is an alias of the harmless
  ``thighhighs`` but asks for ``nude``). Tags whose listed word means something else there are
  named in ``data/known_tag_allow.txt`` (``covered_nipples``, ``censored_text``). Character
  names are searched for the minors list only and without their series qualifier
  (``child_gilgamesh_(fate)`` is a child; ``annie_(destiny_child)`` is not); series and artist
  names are not searched (they are titles and pen names);
- **what the text encoder reads** (``moderation.word_check``) in a tag the data does not know,
  and in a known one that is searched inside (``cumdump``);
- **Japanese, Chinese and Korean words** (``moderation.lexicon``), anywhere in the tag;
- for the minors list, **ages and school years** (``moderation.ages``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from moderation.folding import HYPHENATED_RE, WORD_RE
from moderation.tag_forms import MIN_FUZZY_LEN, Tag
from moderation.tag_match import Index
from moderation.word_check import WordCheck
from prompt.tags import TagCategory, TagDatabase

# Which categories of known tags are searched inside their names, per list.
EXPLICIT_INNER = frozenset({TagCategory.GENERAL, TagCategory.META})
MINOR_INNER = frozenset({TagCategory.GENERAL, TagCategory.META, TagCategory.CHARACTER})
_QUALIFIER_RE = re.compile(r"_\([^()]*\)$")
_NAME_WORD_RE = re.compile(r"[^\W_]+")
_MAX_INNER_WORDS = 5


class ListRules:
    """Every reading of one built-in list; immutable, built once and shared."""

    def __init__(
        self,
        db: TagDatabase,
        index: Index,
        *,
        inner_categories: frozenset[int],
        known_allow: frozenset[str],
        words: WordCheck,
        lexicon: Callable[[str], list[str]],
        ages: Callable[[str], list[str]] | None = None,
    ) -> None:
        self._db = db
        self._index = index
        self._inner_categories = inner_categories
        self._known_allow = known_allow
        self._words = words
        self._lexicon = lexicon
        self._ages = ages
        self._inner = lru_cache(maxsize=16384)(self._inner_uncached)
        # Every word of the listed tags and their aliases: a name holding none of them holds no
        # listed tag (most names; checked before the slower search).
        self._listed_words = frozenset(
            word for name in index.names for form in _written_forms(db, name) for word in _NAME_WORD_RE.findall(form)
        )

    @property
    def listed_words(self) -> dict[str, str]:
        """The written words the word check reads as listed tags."""
        return self._words.listed

    def match(self, tag: Tag) -> list[str]:
        """The listed tags (or written words) one prompt tag asks for."""
        hits = self._index.match(tag)
        if tag.known and tag.raw != tag.key and tag.raw in self._index.names and tag.raw not in self._index.excluded:
            hits.append(tag.raw)  # a word listed as written (romaji) that the tag data aliases elsewhere
        if not tag.known:
            hits += self._words.in_text(tag.text)
        elif not hits:  # a listed tag needs no second reading
            hits += self._known_inside(tag)
        hits += self._lexicon(tag.text)
        if self._ages is not None:
            hits += self._ages(tag.text)
        return hits

    def _known_inside(self, tag: Tag) -> list[str]:
        """A known tag's listed words inside its names, where its category is searched."""
        info = self._db.get(tag.key)
        if info is None or info.category not in self._inner_categories or tag.key in self._known_allow:
            return []
        character = info.category == TagCategory.CHARACTER
        hits: list[str] = []
        for form in dict.fromkeys((tag.raw, tag.key)):
            if form in self._known_allow or form in self._index.excluded:
                continue
            searched = _QUALIFIER_RE.sub("", form) if character else form
            if not self._listed_words.isdisjoint(_NAME_WORD_RE.findall(searched)):
                hits += self._inner(searched)
        return hits + self._words.in_text(tag.text, misspelt=False)  # `cumdump`: a listed word inside

    def _inner_uncached(self, form: str) -> tuple[str, ...]:
        """Listed tags spelt by a run of words inside ``form`` (never the whole of it), unless a
        longer known tag that is not listed holds them (``sex`` in ``same-sex_bathing``)."""
        spans: list[tuple[int, int, str, str | None]] = []  # start, end, key, canonical
        for pattern in (WORD_RE, HYPHENATED_RE):
            words = [(m.start(), m.end(), m.group()) for m in pattern.finditer(form)]
            for i in range(len(words)):
                for j in range(i, min(i + _MAX_INNER_WORDS, len(words))):
                    start, end = words[i][0], words[j][1]
                    if (start, end) == (0, len(form)):
                        continue
                    key = "_".join(w for _, _, w in words[i : j + 1]) if pattern is WORD_RE else form[start:end]
                    info = self._db.get(key)
                    spans.append((start, end, key, info.name if info is not None else None))
        names = self._index.names
        hits = []
        for start, end, key, canonical in spans:
            name = canonical or key
            if name not in names and key + "s" in names:  # `testicle_grab`: a singular
                name = key + "s"
            if name not in names or len(key) < MIN_FUZZY_LEN or key in self._index.whole_only:
                continue
            if key in self._index.excluded:
                continue
            covered = any(
                s <= start and end <= e and (s, e) != (start, end) and c is not None and c not in names
                for s, e, _, c in spans
            )
            if not covered:
                hits.append(name)
        return tuple(dict.fromkeys(hits))


def _written_forms(db: TagDatabase, name: str) -> tuple[str, ...]:
    info = db.get(name)
    return (name, *(info.aliases if info is not None else ()))
