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

A tag the tag data knows (``covered nipples``, ``cumulonimbus cloud``) is judged by its
canonical name alone. A tag it does not know is free text, and is also searched for listed
tags *as whole words and word sequences* (``1girl nude on beach`` -> ``nude``), as the tag
with all punctuation and spaces removed (``n.u.d.e``, ``nu-de``, ``completely nude`` written
``completelynude``), as runs of single letters (``n u d e``) and with common digit/symbol
substitutions (``nud3``, ``pu$$y``). Words that would over-match inside free text are marked
whole-tag-only in the data files (``=facial``: ``facial expression`` is fine).

Known gaps (deliberately not closed, because the fixes over-block): listed words glued to other
words without any separator (``nudegirl``), misspellings, and words in other languages.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prompt.emphasis import BREAK, parse_attention
from prompt.tags import TagDatabase, bare_tag, split_tags

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"
EXPLICIT_FILE = "explicit_tags.txt"
MINOR_FILE = "minor_tags.txt"
INVERSION_FILE = "negative_inversion_tags.txt"

MINORS_REASON = "Sexual content involving minor-coded characters is never allowed."
_EXPLICIT_REASON = "This channel does not allow sexual content (matched: {})."
_INVERSION_REASON = (
    "This channel does not allow sexual content, and that includes asking for nudity by negating "
    "safety tags (matched: {})."
)

# Keys shorter than this are only matched exactly: as free-text words or squeezed forms,
# two letters (`dp`, `3p`) match far too much.
_MIN_FUZZY_LEN = 3
# Longest word sequence looked up in free text (the longest listed tags have four words).
_MAX_NGRAM = 6
_MAX_SHOWN = 3

# --- look-alike folding ---------------------------------------------------------------------

# Letters of other scripts that render like Latin ones (after NFKD, so accented forms are
# already split into base + mark). Upper case is mapped too; keys are lower-cased later.
_HOMOGLYPHS: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "г": "r", "е": "e", "ё": "e", "з": "3", "и": "u", "к": "k", "м": "m",
    "н": "h", "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ь": "b",
    "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l",
    "ү": "y", "ѵ": "v", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "З": "3", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Ԛ": "Q",
    "Ԝ": "W", "Ү": "Y", "Ӏ": "I",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "σ": "o", "ς": "c", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Armenian
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "ա": "w",
    # Latin look-alikes NFKD leaves alone (small capitals, dotless i, stroked letters)
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʏ": "y", "ɪ": "i", "ɴ": "n", "ʀ": "r", "ʜ": "h",
    "ʟ": "l", "ʙ": "b", "ɢ": "g", "ᴀ": "a", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ᴊ": "j", "ᴋ": "k",
    "ᴍ": "m", "ᴏ": "o", "ᴘ": "p", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z", "ꜱ": "s",
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "ŧ": "t", "ƒ": "f",
}  # fmt: skip
_HOMOGLYPH_TABLE = str.maketrans(_HOMOGLYPHS)
# Invisible characters that are not format (Cf) characters: Hangul fillers, braille blank.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Kana voicing marks are combining marks too, but they are part of Japanese words.
_KEEP_MARKS = frozenset("\u3099\u309a")


def fold_text(text: str) -> str:
    """Fold look-alike characters to the ASCII letters they imitate (plain ASCII is returned as is).

    ``ｎｕｄｅ``, ``nu\u200bde``, ``nüde``, ``nudе`` (Cyrillic е) all give ``nude``.
    """
    if text.isascii():
        return text
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", text):
        category = unicodedata.category(ch)
        if category == "Cf" or ch in _INVISIBLE:
            continue
        if category in ("Mn", "Me") and ch not in _KEEP_MARKS:
            continue
        if category == "Cc" and not ch.isspace():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out).translate(_HOMOGLYPH_TABLE))


# --- keys -----------------------------------------------------------------------------------

_SEP_RE = re.compile(r"[\s_]+")
_EDGE_PUNCT_RE = re.compile(r"^[^\w(]+|[^\w)]+$")
_NON_WORD_RE = re.compile(r"[\W_]+")
_WORD_RE = re.compile(r"[^\W_]+")
# Words with their inner hyphens and apostrophes, as Danbooru spells `same-sex_bathing`.
_HYPHENATED_RE = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
# Digit and symbol substitutions; `1` and `|` are read both as `i` and as `l`.
_LEET_I = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a",
                         "$": "s", "!": "i", "|": "l", "€": "e", "+": "t"})  # fmt: skip
_LEET_L = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a",
                         "$": "s", "!": "i", "|": "i", "€": "e", "+": "t"})  # fmt: skip
_HAS_LEET_RE = re.compile(r"[0134578@$!|€+]")


def _norm_key(text: str) -> str:
    """Lookup key: lower case, runs of spaces/underscores -> one ``_``, none at the ends."""
    return _SEP_RE.sub("_", text.lower()).strip("_")


def _compact(text: str) -> str:
    """The key with everything but letters and digits removed (``n.u.d.e`` -> ``nude``)."""
    return _NON_WORD_RE.sub("", text.lower())


def _variants(text: str) -> Iterator[str]:
    """The text, then its digit/symbol-substituted readings where they differ."""
    yield text
    if _HAS_LEET_RE.search(text):
        for table in (_LEET_I, _LEET_L):
            alt = text.translate(table)
            if alt != text:
                yield alt


def _dedupe(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# --- prompt analysis ------------------------------------------------------------------------

# A word of free text: (start, end, word).
_Word = tuple[int, int, str]
# Word sequences of free text: (start, end) -> (key, canonical name when the tag data knows it).
_Spans = dict[tuple[int, int], tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class _Tag:
    """One tag of a prompt, with every form the lists are matched against."""

    key: str  # canonical Danbooru name when known, else the normalised key
    raw: str  # the normalised key as written (before alias resolution)
    known: bool
    weight: float  # the weight of most of its text
    wmin: float
    wmax: float
    # Free-text forms, for tags the tag data does not know (empty for known tags):
    # (written key, canonical, start, end) per word sequence, and the known tags among them as
    # (start, end, name): a word that is part of a longer known tag in the text (`topless` in
    # `topless male`, `sex` in `same-sex bathing`) does not count on its own.
    ngrams: tuple[tuple[str, str, int, int], ...] = ()
    known_spans: tuple[tuple[int, int, str], ...] = ()
    whole_compacts: tuple[str, ...] = ()  # the whole tag squeezed, with substitutions
    part_compacts: tuple[str, ...] = ()  # each space-separated chunk squeezed
    letter_runs: tuple[str, ...] = ()  # runs of single letters joined (`n u d e` -> `nude`)


def _groups(unit: str) -> list[list[tuple[str, float]]]:
    """Split one prompt unit into tags: at ``BREAK`` and at commas inside weighted groups."""
    groups: list[list[tuple[str, float]]] = [[]]
    for text, weight in parse_attention(unit):
        if text == BREAK and weight == -1.0:
            groups.append([])
            continue
        first, *rest = text.split(",")
        groups[-1].append((first, weight))
        for part in rest:
            groups.append([(part, weight)])
    return groups


def _single_letter_runs(variant: str) -> list[str]:
    """Runs of single-letter words long enough to match, joined (`n u d e` -> `nude`)."""
    runs: list[str] = []
    run: list[str] = []
    for word in [*_WORD_RE.findall(variant), ""]:  # the empty word ends the last run
        if len(word) == 1:
            run.append(word)
            continue
        if len(run) >= _MIN_FUZZY_LEN:
            runs.append("".join(run))
        run = []
    return runs


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
    ) -> None:
        """``explicit``/``minors``/``inversions``: tags of each list (any spelling; aliases are
        resolved). ``excluded_aliases``: written forms that never count as a listed tag even
        though the tag data aliases them to one. ``whole_tag_only``: written forms that count
        only as a whole tag, not as a word inside free text."""
        self._db = tags
        self._excluded = frozenset(self._written_key(a) for a in excluded_aliases)
        self._whole_only = frozenset(self._written_key(w) for w in whole_tag_only)
        self.explicit = frozenset(self.canonicalize_entry(t) for t in explicit) - {""}
        self.minors = frozenset(self.canonicalize_entry(t) for t in minors) - {""}
        self.inversions = frozenset(self.canonicalize_entry(t) for t in inversions) - {""}
        self._explicit = _Index(tags, self.explicit, self._excluded, self._whole_only)
        self._minors = _Index(tags, self.minors, self._excluded, self._whole_only)
        self._inversions = _Index(tags, self.inversions, self._excluded, self._whole_only)
        # check() and blocked() usually see the same prompt one after the other.
        self._analyse = functools.lru_cache(maxsize=256)(self._analyse_uncached)
        self._blocklist_index = functools.lru_cache(maxsize=128)(self._build_blocklist_index)

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
        )

    # --- normalisation ----------------------------------------------------------------------

    @staticmethod
    def _written_key(text: str) -> str:
        return _norm_key(fold_text(text))

    def _resolve(self, *texts: str) -> tuple[str, str, bool]:
        """(written key, canonical key, known) for the first text the tag data knows."""
        keys = [_norm_key(t) for t in texts]
        for key in (*keys, *(_EDGE_PUNCT_RE.sub("", k) for k in keys)):
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

    def _analyse_uncached(self, text: str) -> tuple[_Tag, ...]:
        result: list[_Tag] = []
        for unit in split_tags(fold_text(text)):
            groups = [g for g in _groups(unit) if "".join(p for p, _ in g).strip()]
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
                    result.append(_Tag(key, raw, True, dominant, wmin, wmax))
                else:
                    result.append(self._free_text(tag_text, raw, dominant, wmin, wmax))
        return tuple(result)

    def _free_text(self, text: str, raw: str, weight: float, wmin: float, wmax: float) -> _Tag:
        """A tag the tag data does not know: collect the word-level forms to match."""
        lowered = text.replace(BREAK, " ").lower()  # `nudeBREAK` is read `nude break`
        spans: _Spans = {}
        letter_runs: list[str] = []
        original: set[_Word] = set()
        for number, variant in enumerate(_dedupe(_variants(lowered))):  # substitutions keep offsets
            patterns = (_WORD_RE, _HYPHENATED_RE) if ("-" in variant or "'" in variant) else (_WORD_RE,)
            for pattern in patterns:
                found = [(m.start(), m.end(), m.group()) for m in pattern.finditer(variant)]
                if number == 0:
                    original.update(found)
                # A substituted reading only adds word sequences with a substituted word in them,
                # and only words that had letters to begin with (`nud3`, not `2024`).
                fresh = [
                    number > 0 and w not in original and any(c.isalpha() for c in lowered[w[0] : w[1]]) for w in found
                ]
                if number > 0 and not any(fresh):
                    continue
                self._add_word_sequences(spans, found, fresh, substituted_reading=number > 0)
            letter_runs += _single_letter_runs(variant)
        ngrams = tuple((key, name or key, start, end) for (start, end), (key, name) in spans.items())
        known_spans = tuple((start, end, name) for (start, end), (_, name) in spans.items() if name is not None)
        whole = [_compact(v) for v in _variants(lowered)]
        # Chunks with punctuation inside (`nu-de`, `pu$$y`); plain words are the n-grams' job.
        chunks = [c for c in (_EDGE_PUNCT_RE.sub("", c) for c in lowered.split()) if _NON_WORD_RE.search(c)]
        parts = [_compact(v) for chunk in chunks for v in _variants(chunk)]
        return _Tag(
            raw,
            raw,
            False,
            weight,
            wmin,
            wmax,
            ngrams=ngrams,
            known_spans=known_spans,
            whole_compacts=_dedupe(c for c in whole if len(c) >= _MIN_FUZZY_LEN),
            part_compacts=_dedupe(c for c in parts if len(c) >= _MIN_FUZZY_LEN),
            letter_runs=_dedupe(letter_runs),
        )

    def _add_word_sequences(
        self, spans: _Spans, found: list[_Word], fresh: list[bool], *, substituted_reading: bool
    ) -> None:
        """Record each sequence of up to ``_MAX_NGRAM`` words of one reading by its span.

        A span keeps the first key seen for it unless a later reading spells a tag the data
        knows; a known tag is never replaced.
        """
        words = [w[2] for w in found]
        for i in range(len(words)):
            length, single_letters, substituted = -1, True, False
            for j in range(i, min(i + _MAX_NGRAM, len(words))):
                length += len(words[j]) + 1
                single_letters = single_letters and len(words[j]) == 1
                substituted = substituted or fresh[j]
                # Runs of single letters are the letter runs' job.
                if length < _MIN_FUZZY_LEN or single_letters or (substituted_reading and not substituted):
                    continue
                span = (found[i][0], found[j][1])
                if span in spans and spans[span][1] is not None:
                    continue
                key = "_".join(words[i : j + 1])
                info = self._db.get(key)
                if span not in spans or info is not None:
                    spans[span] = (key, info.name if info else None)

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
        inversions: list[tuple[str, str]] = []  # (tag, where)
        for tag in self._analyse(prompt):
            if tag.wmax > 0:
                explicit += self._explicit.match(tag)
                minors += self._minors.match(tag)
            if tag.wmin < 0:
                inversions += [(t, "with a negative weight") for t in self._inversions.match(tag)]
        for tag in self._analyse(negative):
            if tag.wmax > 0:
                inversions += [(t, "in the negative prompt") for t in self._inversions.match(tag)]
            if tag.wmin < 0:
                inversions += [(t, "with a negative weight in the negative prompt") for t in self._explicit.match(tag)]
                minors += self._minors.match(tag)

        if minors and (sexual_context or explicit or inversions):
            matched = _dedupe([*minors, *explicit, *(t for t, _ in inversions)])
            return ContentVerdict(False, MINORS_REASON, matched)
        if not allow_sexual and explicit:
            shown = _dedupe(explicit)
            return ContentVerdict(False, _EXPLICIT_REASON.format(_show(shown)), shown)
        if not allow_sexual and inversions:
            pairs = _dedupe(f"{_display(t)}` {where}" for t, where in inversions)
            listed = ", ".join(f"`{p}" for p in pairs[:_MAX_SHOWN])
            if len(pairs) > _MAX_SHOWN:
                listed += f" and {len(pairs) - _MAX_SHOWN} more"
            return ContentVerdict(False, _INVERSION_REASON.format(listed), _dedupe(t for t, _ in inversions))
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

    def _build_blocklist_index(self, entries: tuple[str, ...]) -> _Index:
        canonical = _dedupe(e for e in (self.canonicalize_entry(x) for x in entries) if e)
        return _Index(self._db, frozenset(canonical), frozenset(), frozenset(), order=canonical)


@dataclass(frozen=True)
class ContentVerdict:
    """``reason`` is a sentence for the member when refused; ``matched`` the tags that decided it."""

    allowed: bool
    reason: str | None
    matched: tuple[str, ...]


class _Index:
    """One tag list with the forms its tags can be written in."""

    def __init__(
        self,
        db: TagDatabase,
        names: frozenset[str],
        excluded: frozenset[str],
        whole_only: frozenset[str],
        order: tuple[str, ...] = (),
    ) -> None:
        self.names = names
        self.order = order
        self.excluded = excluded
        self.whole_only = whole_only
        self.compact_any: dict[str, str] = {}  # squeezed form -> tag, anywhere in free text
        self.compact_whole: dict[str, str] = {}  # squeezed form -> tag, as the whole tag only
        for name in sorted(names):
            info = db.get(name)
            written = [name, *(info.aliases if info is not None and info.name == name else ())]
            for form in written:
                squeezed = _compact(form)
                if form in excluded or len(squeezed) < _MIN_FUZZY_LEN:
                    continue
                target = self.compact_whole if form in whole_only else self.compact_any
                target.setdefault(squeezed, name)
        # Letter runs are searched for every squeezed form; index them by their first 3 letters.
        self._by_prefix: dict[str, list[tuple[str, str]]] = {}
        for squeezed, name in self.compact_any.items():
            self._by_prefix.setdefault(squeezed[:_MIN_FUZZY_LEN], []).append((squeezed, name))

    def match(self, tag: _Tag) -> list[str]:
        hits: list[str] = []
        if tag.raw not in self.excluded and tag.key in self.names:
            hits.append(tag.key)
        if tag.known:
            return hits
        hits += self._ngram_hits(tag)
        hits += self._compact_hits(tag)
        hits += self._letter_run_hits(tag)
        return hits

    def _ngram_hits(self, tag: _Tag) -> list[str]:
        hits: list[str] = []
        for written, canonical, start, end in tag.ngrams:
            if canonical not in self.names or written in self.excluded or written in self.whole_only:
                continue
            covered = any(
                s <= start and end <= e and (s, e) != (start, end) and name not in self.names
                for s, e, name in tag.known_spans
            )
            if not covered:
                hits.append(canonical)
        return hits

    def _compact_hits(self, tag: _Tag) -> list[str]:
        hits: list[str] = []
        for squeezed in tag.whole_compacts:
            found = self.compact_any.get(squeezed) or self.compact_whole.get(squeezed)
            if found:
                hits.append(found)
        for squeezed in tag.part_compacts:
            found = self.compact_any.get(squeezed)
            if found:
                hits.append(found)
        return hits

    def _letter_run_hits(self, tag: _Tag) -> list[str]:
        hits: list[str] = []
        for run in tag.letter_runs:
            for i in range(len(run) - _MIN_FUZZY_LEN + 1):
                for squeezed, name in self._by_prefix.get(run[i : i + _MIN_FUZZY_LEN], ()):
                    if run.startswith(squeezed, i):
                        hits.append(name)
        return hits


def _display(tag: str) -> str:
    return tag.replace("_", " ")


def _show(tags: tuple[str, ...]) -> str:
    shown = ", ".join(f"`{_display(t)}`" for t in tags[:_MAX_SHOWN])
    if len(tags) > _MAX_SHOWN:
        shown += f" and {len(tags) - _MAX_SHOWN} more"
    return shown


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
