"""Words for sexual content and for children in Japanese, Chinese, Korean and romaji.

The lexicons are data (``data/lexicon/*.txt``, their format and sources in the README there):
``[explicit]``, ``[minor]`` and ``[allow]`` sections per language. Japanese, Chinese and Korean
write without spaces between words (Korean attaches its particles), so their entries are found
anywhere inside the text; an occurrence inside an ``[allow]`` compound (``裸眼`` "naked eye",
``裸足`` "barefoot") does not count. Romaji entries are Latin words and are matched as words, like
the English lists (``ContentFilter`` adds them to those).
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
SECTIONS = ("explicit", "minor", "allow")
_HEADER_RE = re.compile(r"^\[(\w+)\]$")


@dataclass(frozen=True)
class LexiconFile:
    """One language's entries, lower-cased, per section."""

    explicit: frozenset[str]
    minor: frozenset[str]
    allow: frozenset[str]


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


class CjkLexicon:
    """Finds lexicon entries inside text; built once, immutable."""

    def __init__(self, files: list[LexiconFile]) -> None:
        self.explicit = frozenset().union(*(f.explicit for f in files))
        self.minor = frozenset().union(*(f.minor for f in files))
        self.allow = frozenset().union(*(f.allow for f in files))
        self._explicit = _alternation(self.explicit)
        self._minor = _alternation(self.minor)
        self._allow = _alternation(self.allow)
        # Both lists ask for the same tag's text, one after the other.
        self.find = lru_cache(maxsize=4096)(self._find)

    @classmethod
    def load(cls, folder: Path = LEXICON_DIR) -> CjkLexicon:
        return cls([read_lexicon(folder / name) for name in CJK_FILES if (folder / name).is_file()])

    def _find(self, text: str) -> tuple[list[str], list[str]]:
        """(explicit entries, minor entries) found in ``text`` (folded, any case), allow rule applied."""
        if text.isascii():
            return [], []
        lowered = text.lower()
        allowed = self._spans(self._allow, lowered, ())
        return self._hits(self._explicit, lowered, allowed), self._hits(self._minor, lowered, allowed)

    @staticmethod
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

    def _hits(self, pattern: re.Pattern[str] | None, text: str, allowed: tuple[tuple[int, int], ...]) -> list[str]:
        return [text[s:e] for s, e in self._spans(pattern, text, allowed)]
