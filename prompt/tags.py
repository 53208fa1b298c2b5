"""Danbooru tag data and the tag-level handling of prompts (split, normalise, order).

A prompt is handled as a list of *units*: the comma-separated pieces at bracket depth 0.
A weighted group such as ``(low quality, worst quality:1.2)`` (the official Light v3.1
negative has one) is one unit, so moving or dropping units never changes which text a
weight applies to.
"""

from __future__ import annotations

import csv
import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from prompt.emphasis import BREAK, parse_attention

DEFAULT_TAGS_PATH = Path(__file__).resolve().parent / "data" / "danbooru.csv"

_BREAK_RE = re.compile(r"\bBREAK\b")
_WS_RE = re.compile(r"\s+")
# A1111's weight suffix: a ")" right after it would turn ``(x:1.2`` into a weight.
_TRAILING_WEIGHT_RE = re.compile(r":[+-]?[.\d]+$")
_COUNT_RE = re.compile(r"\d+\+?(?:girls?|boys?|others?)|multiple_(?:girls|boys|others)")
_QUALIFIER_RE = re.compile(r"_\(([^()]+)\)")
# Suffixes Danbooru gives a copyright when its plain name is taken (``fate`` -> ``fate_(series)``).
_SERIES_SUFFIXES = ("", "_(series)", "_(franchise)", "_(game)", "_(anime)", "_(manga)")
_ESCAPABLE = "()[]\\"
_BRACKETS_RE = re.compile(r"[()\[\]\\]")
_NEEDS_ESCAPE_RE = re.compile(r"[()\[\]\\]")
_ESCAPE_TABLE = str.maketrans({c: "\\" + c for c in _ESCAPABLE})


class TagCategory(enum.IntEnum):
    GENERAL = 0
    ARTIST = 1
    COPYRIGHT = 3
    CHARACTER = 4
    META = 5


@dataclass(frozen=True, slots=True)
class TagInfo:
    """One row of the tag data; ``name`` is Danbooru's spelling (underscores)."""

    name: str
    category: int
    post_count: int
    aliases: tuple[str, ...] = ()

    @property
    def prompt_form(self) -> str:
        """The tag as it is written in a prompt: spaces, A1111 special characters escaped."""
        return escape_tag(tag_to_prompt(self.name))


def is_emoticon(tag: str) -> bool:
    """True for kaomoji such as ``^_^``, ``>_<``, ``o_o`` whose underscore is the mouth.

    Rule: exactly one underscore, 1-3 characters each side, and no two letters/digits in a
    row (so words like ``long_hair`` never qualify). Short artist names such as ``m_k`` also
    match; they are kept as written, which is harmless.
    """
    left, sep, right = tag.partition("_")
    if not sep or "_" in right or not (1 <= len(left) <= 3 and 1 <= len(right) <= 3):
        return False
    return re.search(r"[^\W_]{2}", tag) is None


def tag_to_prompt(name: str) -> str:
    """Danbooru spelling -> prompt spelling (``long_hair`` -> ``long hair``; kaomoji kept)."""
    return name if is_emoticon(name) else name.replace("_", " ")


def escape_tag(text: str) -> str:
    """Escape A1111's special characters so a tag like ``saber (fate)`` stays literal."""
    if not _NEEDS_ESCAPE_RE.search(text):
        return text
    return text.translate(_ESCAPE_TABLE)


def tag_key(text: str) -> str:
    """Lookup key: lower case, whitespace runs -> ``_`` (Danbooru spelling)."""
    return _WS_RE.sub("_", text.strip().lower())


def bare_tag(unit: str) -> str:
    """The literal text of a prompt unit with emphasis removed: ``(long hair:1.2)`` -> ``long hair``."""

    text = "".join(t for t, w in parse_attention(unit) if not (t == BREAK and w == -1.0))
    return _WS_RE.sub(" ", text).strip()


def _unescaped(unit: str) -> str:
    # The unit read as plain text, for users who wrote ``saber (fate)`` without escapes.
    return _WS_RE.sub(" ", unit.replace("\\", "")).strip()


def split_tags(prompt: str) -> list[str]:
    """Split a prompt into trimmed, non-empty units at top-level commas.

    Brackets are made self-contained so a unit means the same wherever it is moved:
    a closer with nothing open is escaped (A1111 reads it as a literal anyway) and brackets
    still open at the end are closed there (A1111 closes them at the end anyway).
    """
    # Most prompts have no brackets and need no character-by-character walk.
    units = _split_brackets(prompt) if _BRACKETS_RE.search(prompt) else prompt.split(",")
    return [u for u in (u.strip() for u in units) if u]


def _split_brackets(prompt: str) -> list[str]:
    """``split_tags``'s walk for a prompt with brackets or escapes (units not yet trimmed)."""
    units: list[str] = []
    current: list[str] = []
    round_open = square_open = 0
    i, n = 0, len(prompt)
    while i < n:
        c = prompt[i]
        if c == "\\" and i + 1 < n and prompt[i + 1] in _ESCAPABLE:
            current.append(prompt[i : i + 2])
            i += 2
            continue
        if c == "(":
            round_open += 1
        elif c == "[":
            square_open += 1
        elif c == ")":
            if round_open:
                round_open -= 1
            else:
                c = "\\)"
        elif c == "]":
            if square_open:
                square_open -= 1
            else:
                c = "\\]"
        elif c == "," and not round_open and not square_open:
            units.append("".join(current))
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    last = "".join(current).rstrip()
    if round_open or square_open:
        trailing_backslashes = len(last) - len(last.rstrip("\\"))
        if trailing_backslashes % 2 or (not square_open and _TRAILING_WEIGHT_RE.search(last)):
            # A space keeps A1111's reading: ``(x:1.2`` stays an unweighted x1.1 group and
            # a lone ``\`` does not escape the closer we add.
            last += " "
        last += "]" * square_open + ")" * round_open
    units.append(last)
    return units


def normalize_tag(unit: str) -> str:
    """Trim, collapse whitespace and write underscores as spaces, except in kaomoji.

    Weights and escapes are left as they are: ``(long_hair:1.2)`` -> ``(long hair:1.2)``.
    """
    unit = _WS_RE.sub(" ", unit).strip()
    if "_" not in unit or is_emoticon(bare_tag(unit)):
        return unit
    return _WS_RE.sub(" ", unit.replace("_", " ")).strip()


def normalize_tags(prompt: str) -> list[str]:
    """Split and normalise a prompt; exact duplicates (ignoring case) keep their first place."""
    seen: set[str] = set()
    result: list[str] = []
    for unit in split_tags(prompt):
        tag = normalize_tag(unit)
        if not tag:
            continue
        key = tag.lower()
        if tag != BREAK:  # every BREAK is meaningful: it starts a new 75-token chunk
            if key in seen:
                continue
            seen.add(key)
        result.append(tag)
    return result


def is_count_tag(unit: str) -> bool:
    """``1girl``, ``2boys``, ``6+girls``, ``multiple others`` ... (weights seen through)."""
    return _COUNT_RE.fullmatch(tag_key(bare_tag(unit))) is not None


def order_tags(tags: Iterable[str], db: TagDatabase) -> list[str]:
    """Order units as Animagine was trained: counts, characters, series, then the rest.

    Each group keeps the user's order. A prompt with ``BREAK`` is left in the user's
    order: the user is laying out the 75-token chunks by hand and moving tags across a
    BREAK would change them.
    """
    units = list(tags)
    if any(_BREAK_RE.search(u) for u in units):
        return units
    counts: list[str] = []
    characters: list[str] = []
    series: list[str] = []
    rest: list[str] = []
    for unit in units:
        if is_count_tag(unit):
            counts.append(unit)
            continue
        category = db.category(unit)
        if category == TagCategory.CHARACTER:
            characters.append(unit)
        elif category == TagCategory.COPYRIGHT:
            series.append(unit)
        else:
            rest.append(unit)
    return counts + characters + series + rest


class TagDatabase:
    """Danbooru tags with categories, post counts and aliases; immutable once built."""

    def __init__(self, tags: Iterable[TagInfo]) -> None:
        by_name: dict[str, TagInfo] = {}
        for info in tags:
            by_name.setdefault(info.name, info)
        # Most used first: the order autocomplete ranks by.
        self._tags: tuple[TagInfo, ...] = tuple(sorted(by_name.values(), key=lambda t: (-t.post_count, t.name)))
        self._by_name = {t.name: t for t in self._tags}
        aliases: dict[str, TagInfo] = {}
        for info in self._tags:
            for alias in info.aliases:
                # A real tag's own name wins over another tag's alias; among aliases,
                # the more used tag wins (we iterate most used first).
                if alias not in self._by_name:
                    aliases.setdefault(alias, info)
        self._by_alias = aliases

    @classmethod
    def load(cls, path: Path | str | None = None) -> TagDatabase:
        """Read the CSV (``tag,category,post_count,"alias1,alias2"``, no header)."""
        source = Path(path) if path is not None else DEFAULT_TAGS_PATH
        tags: list[TagInfo] = []
        with source.open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                if len(row) < 3 or not row[0]:
                    continue
                try:
                    category, posts = int(row[1]), int(row[2])
                except ValueError:
                    continue
                aliases = tuple(a.lower() for a in row[3].split(",") if a) if len(row) > 3 else ()
                tags.append(TagInfo(row[0].lower(), category, posts, aliases))
        return cls(tags)

    def __len__(self) -> int:
        return len(self._tags)

    def __iter__(self) -> Iterator[TagInfo]:
        """Tags, most used first."""
        return iter(self._tags)

    def get(self, name: str) -> TagInfo | None:
        """Exact lookup by Danbooru name or alias key (no emphasis handling)."""
        return self._by_name.get(name) or self._by_alias.get(name)

    def lookup(self, tag: str) -> TagInfo | None:
        """Find a prompt unit's tag by name or alias, seeing through emphasis and escapes.

        ``(long_hair:1.2)``, ``Long Hair`` and ``longhair`` (an alias) all give ``long_hair``;
        ``saber (fate)`` written without escapes is tried literally too.
        """
        for text in (bare_tag(tag), _unescaped(tag)):
            info = self.get(tag_key(text))
            if info is not None:
                return info
        return None

    def canonical(self, tag: str) -> str | None:
        """The Danbooru name (underscores) of a tag, alias or weighted unit; None if unknown."""
        info = self.lookup(tag)
        return info.name if info else None

    def category(self, tag: str) -> int | None:
        info = self.lookup(tag)
        return info.category if info else None

    def series(self, tag: str) -> str | None:
        """The copyright (series) tag name of a character, where the data tells it.

        Danbooru disambiguates characters with a qualifier: ``saber_(fate)``,
        ``admiral_(kancolle)``. A qualifier that is itself a copyright tag, a copyright's
        alias (``kancolle`` -> ``kantai_collection``) or a copyright with a disambiguation
        suffix (``fate`` -> ``fate_(series)``) gives the series; qualifiers such as
        ``(1st costume)`` do not. Characters without one (``hatsune_miku``) give None.
        """
        info = self.get(tag) or self.lookup(tag)  # plain names skip the emphasis parser
        if info is None or info.category != TagCategory.CHARACTER:
            return None
        for qualifier in reversed(_QUALIFIER_RE.findall(info.name)):
            for suffix in _SERIES_SUFFIXES:
                found = self.get(qualifier + suffix)
                if found is not None and found.category == TagCategory.COPYRIGHT:
                    return found.name
        return None
