"""Listed words the text encoder still reads inside other words: glued, suffixed, misspelt.

A tag the tag data does not know is cut into CLIP's words and BPE tokens
(``moderation.clip_tokens``), and each word is judged (rules 1, 2 and 4 only where CLIP splits
it into several tokens):

1. a run of its tokens spells a listed word (``nudegirl`` is read ``nu|de|girl``: ``nude``;
   ``girlhentai``, ``nudeの``: a listed word glued to text in any script);
2. it starts or ends with a listed word of four letters or more (``nudeness``, ``toplessgirl``,
   ``девушкаnude``: Cyrillic look-alikes are folded to Latin letters first, so the glued word
   is not cut where the script changes), or it is a three-letter listed word with an ending
   (``cumming``);
3. it is the singular of a listed word (``testicle``: the tag data has only the plural);
4. one doubled letter written once makes it a listed word or makes it start with one
   (``nudde``, ``lolii``, ``pussyy``, ``nuddegirl``), or two neighbouring letters swapped make
   it a listed word (``ndue``).

A word the allow list names is never judged: English and Danbooru words that contain a listed
word but mean something else (``sextant``, ``analgesic``; ``data/word_allow.txt``, made by
running these rules over a dictionary and the words of Danbooru's unlisted tags with
``scripts/word_allow_candidates.py`` and reading each hit). A word of one CLIP token is a word
CLIP knows on its own (``under``, ``clock``): it is read as itself, and the whole-word lists
judge it. A tag the data knows is judged by rules 1-3 (its spelling is Danbooru's).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache

from moderation.clip_tokens import ClipWords

MIN_TOKEN_WORD = 3
"""Shortest listed word matched as a run of tokens (``sex`` in ``sex|ting``)."""
MIN_PREFIX_WORD = 4
"""Shortest listed word matched as the start or the end of a longer word."""
_MIN_MISSPELT = 4  # shorter words have too many real neighbours (`sex` -> `sxe`, `ass` -> `sas`)
_MAX_TOKENS = 6  # the longest listed words are five CLIP tokens
# Endings a short listed word takes (``cumming``, ``cummies``); longer ones are rule 2's.
_ENDINGS = ("s", "es", "ed", "er", "ers", "ing", "y", "ie", "ies")


def collapsed(word: str) -> Iterator[str]:
    """The word with one of its doubled letters written once (``nudde`` -> ``nude``)."""
    for i in range(len(word) - 1):
        if word[i] == word[i + 1]:
            yield word[:i] + word[i + 1 :]


def swapped(word: str) -> Iterator[str]:
    """The word with two neighbouring letters swapped (``ndue`` -> ``nude``)."""
    for i in range(len(word) - 1):
        if word[i] != word[i + 1]:
            yield word[:i] + word[i + 1] + word[i] + word[i + 2 :]


class WordCheck:
    """Finds the listed words inside one CLIP word; built once per list, immutable."""

    def __init__(self, clip: ClipWords, listed: Mapping[str, str], allowed: Iterable[str]) -> None:
        """``listed``: written word -> the listed tag it stands for (``naked`` -> ``nude``);
        ``allowed``: words that are never judged."""
        self._clip = clip
        self.listed = {w: t for w, t in listed.items() if len(w) >= MIN_TOKEN_WORD and w.isalpha()}
        self._allowed = frozenset(allowed)
        self._by_prefix: dict[str, list[str]] = {}
        self._by_suffix: dict[str, list[str]] = {}
        for word in self.listed:
            if len(word) >= MIN_PREFIX_WORD:
                self._by_prefix.setdefault(word[:MIN_PREFIX_WORD], []).append(word)
                self._by_suffix.setdefault(word[-MIN_PREFIX_WORD:], []).append(word)
        self.find = lru_cache(maxsize=16384)(self._find)
        self._by_first3: dict[str, list[str]] = {}
        for word in self.listed:
            self._by_first3.setdefault(word[:MIN_TOKEN_WORD], []).append(word)

    def in_text(self, text: str, *, misspelt: bool = True) -> list[str]:
        """The listed tags that the CLIP words of ``text`` spell (rules 1-4; ``misspelt=False``:
        1-3 only, for a tag the data knows, which is spelt as Danbooru spells it)."""
        if not misspelt and not self._holds_listed(text.lower()):
            return []  # rules 1-3 need a listed word inside the text
        hits: list[str] = []
        for word in self._clip.words(text):
            if len(word.text) >= MIN_TOKEN_WORD and word.text not in self._allowed:
                hits += self.find(word.text, word.pieces, misspelt)
        return hits

    def _find(self, word: str, pieces: tuple[str, ...], misspelt: bool = True) -> tuple[str, ...]:
        hits: list[str] = []
        plural = None if word in self.listed else self.listed.get(word + "s") or self.listed.get(word + "es")
        if plural is not None:  # `testicle`: the singular the tag data lacks
            hits.append(plural)
        if len(pieces) > 1:
            hits += self._token_runs(pieces)
            hits += self._starts(word)
            hits += self._ends(word)
            hits += self._inflected(word)
        if misspelt and not hits and len(pieces) > 1 and len(word) >= _MIN_MISSPELT and word.isalpha():
            hits += self._misspelt(word)
        return tuple(dict.fromkeys(hits))

    def _holds_listed(self, text: str) -> bool:
        """Whether a listed word appears anywhere in ``text`` (a dict probe per position is
        several times faster than one regular expression of all the words)."""
        first3 = self._by_first3
        for i in range(len(text) - MIN_TOKEN_WORD + 1):
            candidates = first3.get(text[i : i + MIN_TOKEN_WORD])
            if candidates and any(text.startswith(word, i) for word in candidates):
                return True
        return False

    def _token_runs(self, pieces: tuple[str, ...]) -> list[str]:
        hits = []
        for i in range(len(pieces)):
            run = ""
            for piece in pieces[i : i + _MAX_TOKENS]:
                run += piece
                if run in self.listed:
                    hits.append(self.listed[run])
        return hits

    def _starts(self, word: str) -> list[str]:
        return [self.listed[w] for w in self._by_prefix.get(word[:MIN_PREFIX_WORD], ()) if word.startswith(w)]

    def _inflected(self, word: str) -> list[str]:
        """A three-letter listed word with an ending, its last letter doubled or not."""
        stem = word[:MIN_TOKEN_WORD]
        if stem not in self.listed:
            return []
        rest = word[MIN_TOKEN_WORD:]
        rest = rest[1:] if rest[:1] == stem[-1] else rest
        return [self.listed[stem]] if rest in _ENDINGS else []

    def _ends(self, word: str) -> list[str]:
        return [self.listed[w] for w in self._by_suffix.get(word[-MIN_PREFIX_WORD:], ()) if word.endswith(w)]

    def _misspelt(self, word: str) -> list[str]:
        """A doubled letter reads as one (also at the start of a longer word: ``nuddegirl``); a
        swap only when it gives a listed word itself (a swap inside a longer word reads too many
        real words: ``under`` -> ``nuder``)."""
        hits: list[str] = []
        for variant in collapsed(word):
            if variant not in self._allowed:
                hits += [self.listed[variant]] if variant in self.listed else self._starts(variant)
        for variant in swapped(word):
            if variant in self.listed:
                hits.append(self.listed[variant])
        return hits
