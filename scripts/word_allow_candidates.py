"""List the words the content rules' word check would flag, to review for data/word_allow.txt.

    .venv/bin/python scripts/word_allow_candidates.py /usr/share/dict/american-english > candidates.txt

Reads a word list (one word a line; Debian's ``wamerican`` package has one) and every word of
the Danbooru tags that no content list holds, runs ``moderation.word_check`` over each (with
no allow list), and prints ``word<TAB>source<TAB>listed tags it was read as``. A person reads
the output: a word that means something harmless goes into ``moderation/data/word_allow.txt``;
one that asks for what the list holds (``nudes``, ``pornographic``) stays out.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from moderation.clip_tokens import ClipWords
from moderation.content import ContentFilter
from moderation.content_data import ContentData
from moderation.word_check import WordCheck
from prompt.tags import TagCategory, TagDatabase

_WORD_RE = re.compile(r"[a-z]+")


def _tag_words(db: TagDatabase, content: ContentFilter) -> set[str]:
    listed = content.explicit | content.minors
    words: set[str] = set()
    searched = (TagCategory.GENERAL, TagCategory.COPYRIGHT, TagCategory.CHARACTER)
    for info in db:
        harmless = info.name not in listed and not content.check(info.name, "", allow_sexual=False).matched
        if info.category in searched and harmless:
            words.update(_WORD_RE.findall(info.name))
    return words


def main(dictionary: Path) -> None:
    db = TagDatabase.load()
    content = ContentFilter.load(db)
    clip = ClipWords()
    data = ContentData.empty(clip)
    checks = {name: WordCheck(clip, rules.listed_words, data.word_allow) for name, rules in content.list_rules()}
    sources = {w: "danbooru" for w in _tag_words(db, content)}
    for line in dictionary.read_text(encoding="utf-8", errors="replace").splitlines():
        word = line.strip().lower()
        if word.isascii() and word.isalpha():
            sources.setdefault(word, "dictionary")
    for word in sorted(sources):
        pieces = clip.words(word)
        if len(pieces) != 1:
            continue
        hits = [hit for check in checks.values() for hit in check.find(word, pieces[0].pieces)]
        if hits:
            print(f"{word}\t{sources[word]}\t{','.join(dict.fromkeys(hits))}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
