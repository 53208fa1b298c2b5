"""The forms one prompt tag is matched in: its key, its weights and, for free text, its words.

A tag the tag data knows is matched by its canonical name alone. A tag it does not know is
free text: ``free_text_tag`` collects its word sequences, its squeezed forms (punctuation and
spaces removed), its runs of single letters and their digit/symbol-substituted readings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moderation.folding import EDGE_PUNCT_RE, HYPHENATED_RE, NON_WORD_RE, WORD_RE, compact, dedupe, variants
from prompt.emphasis import BREAK, parse_attention
from prompt.tags import TagDatabase

# Keys shorter than this are only matched exactly: as free-text words or squeezed forms,
# two letters (`dp`, `3p`) match far too much.
MIN_FUZZY_LEN = 3
"""Shortest key matched in free text, squeezed or as a letter run."""
# Longest word sequence looked up in free text (the longest listed tags have four words).
_MAX_NGRAM = 6

# A word of free text: (start, end, word).
_Word = tuple[int, int, str]
# Word sequences of free text: (start, end) -> (key, canonical name when the tag data knows it).
_Spans = dict[tuple[int, int], tuple[str, str | None]]


@dataclass(frozen=True, slots=True)
class Tag:
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
    text: str = ""  # the tag as written (folded, emphasis removed), for the readings of list_rules


# What A1111's emphasis parser acts on; a unit with none of it is one tag at weight 1.
_EMPHASIS_RE = re.compile(r"[()\[\]\\:]|BREAK")


def tag_groups(unit: str) -> list[list[tuple[str, float]]]:
    """Split one prompt unit into tags: at ``BREAK`` and at commas inside weighted groups."""
    if not _EMPHASIS_RE.search(unit):
        return [[(part, 1.0)] for part in unit.split(",")]
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
    for word in [*WORD_RE.findall(variant), ""]:  # the empty word ends the last run
        if len(word) == 1:
            run.append(word)
            continue
        if len(run) >= MIN_FUZZY_LEN:
            runs.append("".join(run))
        run = []
    return runs


def free_text_tag(db: TagDatabase, text: str, raw: str, weight: float, wmin: float, wmax: float) -> Tag:
    """A tag the tag data does not know: collect the word-level forms to match."""
    lowered = text.replace(BREAK, " ").lower()  # `nudeBREAK` is read `nude break`
    spans: _Spans = {}
    letter_runs: list[str] = []
    original: set[_Word] = set()
    for number, variant in enumerate(dedupe(variants(lowered))):  # substitutions keep offsets
        patterns = (WORD_RE, HYPHENATED_RE) if ("-" in variant or "'" in variant) else (WORD_RE,)
        for pattern in patterns:
            found = [(m.start(), m.end(), m.group()) for m in pattern.finditer(variant)]
            if number == 0:
                original.update(found)
            # A substituted reading only adds word sequences with a substituted word in them,
            # and only words that had letters to begin with (`nud3`, not `2024`).
            fresh = [number > 0 and w not in original and any(c.isalpha() for c in lowered[w[0] : w[1]]) for w in found]
            if number > 0 and not any(fresh):
                continue
            _add_word_sequences(db, spans, found, fresh, substituted_reading=number > 0)
        letter_runs += _single_letter_runs(variant)
    ngrams = tuple((key, name or key, start, end) for (start, end), (key, name) in spans.items())
    known_spans = tuple((start, end, name) for (start, end), (_, name) in spans.items() if name is not None)
    whole = [compact(v) for v in variants(lowered)]
    # Chunks with punctuation inside (`nu-de`, `pu$$y`); plain words are the n-grams' job.
    chunks = [c for c in (EDGE_PUNCT_RE.sub("", c) for c in lowered.split()) if NON_WORD_RE.search(c)]
    parts = [compact(v) for chunk in chunks for v in variants(chunk)]
    return Tag(
        raw,
        raw,
        False,
        weight,
        wmin,
        wmax,
        ngrams=ngrams,
        known_spans=known_spans,
        whole_compacts=dedupe(c for c in whole if len(c) >= MIN_FUZZY_LEN),
        part_compacts=dedupe(c for c in parts if len(c) >= MIN_FUZZY_LEN),
        letter_runs=dedupe(letter_runs),
        text=text,
    )


def _add_word_sequences(
    db: TagDatabase, spans: _Spans, found: list[_Word], fresh: list[bool], *, substituted_reading: bool
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
            if length < MIN_FUZZY_LEN or single_letters or (substituted_reading and not substituted):
                continue
            span = (found[i][0], found[j][1])
            if span in spans and spans[span][1] is not None:
                continue
            key = "_".join(words[i : j + 1])
            info = db.get(key)
            if span not in spans or info is not None:
                spans[span] = (key, info.name if info else None)
