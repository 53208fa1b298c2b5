"""Words for sexual content and for children in Japanese, Chinese, Korean and romaji.

The lexicons are data (``data/lexicon/*.txt``, their format and sources in the README there):
``[explicit]``, ``[minor]``, ``[inversion]`` and ``[allow]`` sections per language. Japanese,
Chinese and Korean write without spaces between words (Korean attaches its particles), so their
entries are found anywhere inside the text; an occurrence inside an ``[allow]`` compound
(``裸眼`` "naked eye", ``裸足`` "barefoot") does not count. An entry written ``=word`` counts only
as the whole tag, like the English lists' ``=word``: Korean ``=보지`` is the vulgar word as a tag,
not ``보지 않았다`` ("did not look"). ``[inversion]`` words are the safety words (clothes,
underwear, censoring) that ask for nudity when put in the negative prompt. Romaji entries are
Latin words and are matched as words, like the English lists (``ContentFilter`` adds them to
those).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from moderation.folding import fold_text

LEXICON_DIR = Path(__file__).resolve().parent / "data" / "lexicon"
CJK_FILES = ("ja.txt", "zh-Hans.txt", "zh-Hant.txt", "ko.txt")
ROMAJI_FILE = "romaji.txt"
SECTIONS = ("explicit", "minor", "allow", "inversion")
WHOLE_WORD = "="
_HEADER_RE = re.compile(r"^\[(\w+)\]$")

# What one tag's text holds: (explicit, minor, inversion) entries found.
Found = tuple[list[str], list[str], list[str]]


@dataclass(frozen=True)
class LexiconFile:
    """One language's entries, folded and lower-cased, per section (``=word`` kept marked)."""

    explicit: frozenset[str] = frozenset()
    minor: frozenset[str] = frozenset()
    allow: frozenset[str] = frozenset()
    inversion: frozenset[str] = frozenset()

    @staticmethod
    def words(entries: frozenset[str]) -> frozenset[str]:
        """The entries as plain words (the ``=`` marker dropped), for the romaji file."""
        return frozenset(e.removeprefix(WHOLE_WORD) for e in entries)


def read_lexicon(path: Path) -> LexiconFile:
    """Parse a lexicon file; a line outside a known section is an error that names the line."""
    sections: dict[str, set[str]] = {name: set() for name in SECTIONS}
    current: set[str] | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        header = _HEADER_RE.match(text)
        if header:
            if header.group(1) not in sections:
                raise ValueError(f"{path}:{number}: unknown section [{header.group(1)}]; use {', '.join(SECTIONS)}")
            current = sections[header.group(1)]
        elif current is None:
            raise ValueError(f"{path}:{number}: {text!r} comes before any section header")
        else:
            current.add(fold_text(text).lower())  # matched against folded prompts
    return LexiconFile(*(frozenset(sections[name]) for name in SECTIONS))


def _alternation(words: frozenset[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    # Longest first, so that at each position the longest entry is the one reported.
    ordered = sorted(words, key=lambda w: (-len(w), w))
    return re.compile("(?=(" + "|".join(re.escape(w) for w in ordered) + "))")


class _Section:
    """One section of every file: its entries found inside text, and its whole-tag entries."""

    def __init__(self, entries: frozenset[str]) -> None:
        self.inside = _alternation(frozenset(e for e in entries if not e.startswith(WHOLE_WORD)))
        self.whole = frozenset(e[1:] for e in entries if e.startswith(WHOLE_WORD))

    def find(self, text: str, allowed: tuple[tuple[int, int], ...]) -> list[str]:
        found = [text[s:e] for s, e in _spans(self.inside, text, allowed)]
        whole = text.strip()
        return [*found, whole] if whole in self.whole else found


class CjkLexicon:
    """Finds lexicon entries inside text; built once, immutable."""

    def __init__(self, files: list[LexiconFile]) -> None:
        self.explicit = frozenset().union(*(f.explicit for f in files))
        self.minor = frozenset().union(*(f.minor for f in files))
        self.inversion = frozenset().union(*(f.inversion for f in files))
        self.allow = frozenset().union(*(f.allow for f in files))
        self._sections = (_Section(self.explicit), _Section(self.minor), _Section(self.inversion))
        self._allow = _alternation(self.allow)
        # The three lists ask for the same tag's text, one after the other.
        self.find = lru_cache(maxsize=4096)(self._find)

    @classmethod
    def load(cls, folder: Path = LEXICON_DIR) -> CjkLexicon:
        return cls([read_lexicon(folder / name) for name in CJK_FILES if (folder / name).is_file()])

    def _find(self, text: str) -> Found:
        """The (explicit, minor, inversion) entries in ``text`` (folded, any case), allow rule
        applied."""
        if text.isascii():
            return [], [], []
        lowered = text.lower()
        allowed = _spans(self._allow, lowered, ())
        explicit, minor, inversion = (section.find(lowered, allowed) for section in self._sections)
        return explicit, minor, inversion


def _spans(
    pattern: re.Pattern[str] | None, text: str, allowed: tuple[tuple[int, int], ...]
) -> tuple[tuple[int, int], ...]:
    if pattern is None:
        return ()
    found = []
    for match in pattern.finditer(text):
        start = match.start()
        end = start + len(match.group(1))
        if not any(a <= start and end <= b for a, b in allowed):
            found.append((start, end))
    return tuple(found)
