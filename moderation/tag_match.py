"""Matching prompt tags against one tag list, in every form a listed tag can be written in.

An ``Index`` holds a list's canonical names and their squeezed forms (aliases included); its
``match`` checks a ``Tag`` by name, by its free-text word sequences, by its squeezed forms and
by its runs of single letters.
"""

from __future__ import annotations

from moderation.folding import compact
from moderation.tag_forms import MIN_FUZZY_LEN, Tag
from prompt.tags import TagDatabase


class Index:
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
                squeezed = compact(form)
                if form in excluded or len(squeezed) < MIN_FUZZY_LEN:
                    continue
                target = self.compact_whole if form in whole_only else self.compact_any
                target.setdefault(squeezed, name)
        # Letter runs are searched for every squeezed form; index them by their first 3 letters.
        self._by_prefix: dict[str, list[tuple[str, str]]] = {}
        for squeezed, name in self.compact_any.items():
            self._by_prefix.setdefault(squeezed[:MIN_FUZZY_LEN], []).append((squeezed, name))

    def match(self, tag: Tag) -> list[str]:
        """The listed tags a prompt tag matches (a tag may appear more than once)."""
        hits: list[str] = []
        if tag.raw not in self.excluded and tag.key in self.names:
            hits.append(tag.key)
        if tag.known:
            return hits
        hits += self._ngram_hits(tag)
        hits += self._compact_hits(tag)
        hits += self._letter_run_hits(tag)
        return hits

    def _ngram_hits(self, tag: Tag) -> list[str]:
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

    def _compact_hits(self, tag: Tag) -> list[str]:
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

    def _letter_run_hits(self, tag: Tag) -> list[str]:
        hits: list[str] = []
        for run in tag.letter_runs:
            for i in range(len(run) - MIN_FUZZY_LEN + 1):
                for squeezed, name in self._by_prefix.get(run[i : i + MIN_FUZZY_LEN], ()):
                    if run.startswith(squeezed, i):
                        hits.append(name)
        return hits
