"""Danbooru's tag implications: a tag that implies a listed tag is that listed tag.

Danbooru's implication graph (``antecedent -> consequent``: ``irrumatio -> fellatio``,
``cum_in_pussy -> cum``) is read from a CSV in the layout of Danbooru's public
``tag_implications`` export: a header with ``antecedent_name`` and ``consequent_name`` (and
optionally ``status``; rows other than ``active`` are skipped). Every tag's implied tags are
followed to the end of the chain, so a tag is judged by all it implies.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path

IMPLICATIONS_PATH = Path(__file__).resolve().parent.parent / "prompt" / "data" / "danbooru_implications.csv"
_COLUMNS = ("antecedent_name", "consequent_name")


def read_implications(path: Path) -> dict[str, tuple[str, ...]]:
    """antecedent -> its direct consequents; ``ValueError`` names the file when it is unusable."""
    graph: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path} lacks the column(s) {', '.join(missing)} of Danbooru's tag_implications export")
        for row in reader:
            if (row.get("status") or "active") != "active":
                continue
            antecedent, consequent = (row[c].strip().lower() for c in _COLUMNS)
            if antecedent and consequent:
                graph.setdefault(antecedent, []).append(consequent)
    return {tag: tuple(implied) for tag, implied in graph.items()}


class Implications:
    """What each tag implies, followed to the end of every chain; immutable."""

    def __init__(self, graph: Mapping[str, Iterable[str]]) -> None:
        self._graph = {tag: tuple(implied) for tag, implied in graph.items()}

    @classmethod
    def load(cls, path: Path = IMPLICATIONS_PATH) -> Implications:
        """The graph at ``path``; an empty one where the file is not there."""
        return cls(read_implications(path) if path.is_file() else {})

    def __len__(self) -> int:
        return len(self._graph)

    def implied(self, tag: str) -> frozenset[str]:
        """Every tag ``tag`` implies, directly or through others (cycles are safe)."""
        seen: set[str] = set()
        stack = list(self._graph.get(tag, ()))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self._graph.get(current, ()))
        return frozenset(seen)

    def listed_ancestors(self, listed: frozenset[str]) -> dict[str, str]:
        """Every tag that implies a listed tag -> one listed tag it implies (sorted, so stable)."""
        found: dict[str, str] = {}
        for tag in self._graph:
            if tag in listed:
                continue
            hits = self.implied(tag) & listed
            if hits:
                found[tag] = min(hits)
        return found
