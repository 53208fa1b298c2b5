"""The data the content rules read besides the three tag lists, loaded together.

- ``lexicon/``: Japanese, Chinese and Korean words (inside words, or ``=word`` whole) and romaji
  words (words), for sexual content, children and the safety words of the negative prompt;
- Danbooru's implication graph (``moderation.implications``), where it is vendored;
- ``known_tag_allow.txt``: known tags whose own name holds a listed word that means something
  else there (``covered_nipples``);
- ``word_allow.txt``: words that contain a listed word but are harmless (``sextant``);
- CLIP's tokenizer (``moderation.clip_tokens``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from moderation.clip_tokens import ClipWords
from moderation.implications import IMPLICATIONS_PATH, Implications
from moderation.lexicon import LEXICON_DIR, ROMAJI_FILE, CjkLexicon, LexiconFile, read_lexicon

KNOWN_TAG_ALLOW_FILE = "known_tag_allow.txt"
WORD_ALLOW_FILE = "word_allow.txt"


def read_word_list(path: Path) -> frozenset[str]:
    """One word or tag a line (any case, spaces or underscores), ``#`` comments; none where the
    file is not there (a test's own list folder)."""
    if not path.is_file():
        return frozenset()
    words = (line.split("#", 1)[0].strip().lower().replace(" ", "_") for line in path.read_text("utf-8").splitlines())
    return frozenset(w for w in words if w)


@dataclass(frozen=True)
class ContentData:
    clip: ClipWords
    cjk: CjkLexicon
    romaji: LexiconFile
    implications: Implications
    known_tag_allow: frozenset[str]
    word_allow: frozenset[str]

    @classmethod
    def empty(cls, clip: ClipWords | None = None) -> ContentData:
        """No data beyond the tag lists (the CLIP tokenizer is still CLIP's)."""
        return cls(clip or ClipWords(), CjkLexicon([]), LexiconFile(), Implications({}), frozenset(), frozenset())

    @classmethod
    def load(
        cls,
        data_dir: Path,
        *,
        implications: Path = IMPLICATIONS_PATH,
        clip: ClipWords | None = None,
    ) -> ContentData:
        """The data beside the tag lists in ``data_dir`` (its ``lexicon/`` folder, its allow lists;
        what is not there is empty) and the implication graph at ``implications``."""
        lexicon_dir = data_dir / LEXICON_DIR.name
        romaji = lexicon_dir / ROMAJI_FILE
        return cls(
            clip or ClipWords(),
            CjkLexicon.load(lexicon_dir),
            read_lexicon(romaji) if romaji.is_file() else LexiconFile(),
            Implications.load(implications),
            read_word_list(data_dir / KNOWN_TAG_ALLOW_FILE),
            read_word_list(data_dir / WORD_ALLOW_FILE),
        )
