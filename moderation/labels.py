"""A WD14 tagger's labels: its ``selected_tags.csv`` (SmilingWolf's format: ``tag_id,name,
category,count``; category 9 rating, 4 character, 0 general), one row per output, in output order.

Read by ``moderation.tagger`` (every label, for ``/describe``) and by ``moderation.classifier``
(the minor-coded labels, for the output check's minor rule); kept apart from both so that
neither imports the other.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from core.errors import ClassifierLoadError
from prompt.ratings import Rating

LABELS_FILENAME = "selected_tags.csv"
_COLUMNS = ("name", "category")


class LabelCategory(enum.IntEnum):
    """The categories a WD14 label file uses (Danbooru's, plus 9 for the ratings)."""

    GENERAL = 0
    CHARACTER = 4
    RATING = 9


@dataclass(frozen=True)
class TagLabels:
    """The names (Danbooru spelling, underscores) and categories of a model's outputs."""

    names: tuple[str, ...]
    categories: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.names)

    @cached_property
    def _by_category(self) -> dict[int, np.ndarray]:
        categories = np.asarray(self.categories, dtype=np.int64)
        return {int(c): np.flatnonzero(categories == c) for c in np.unique(categories)}

    def indices(self, category: int) -> np.ndarray:
        """The output positions of one category, in label order."""
        return self._by_category.get(category, np.empty(0, dtype=np.int64))


def read_labels(path: Path | str) -> TagLabels:
    """Read a ``selected_tags.csv``; ``ClassifierLoadError`` names the file when it is unusable."""
    source = Path(path)
    try:
        with source.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            header = tuple(reader.fieldnames or ())
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ClassifierLoadError(f"could not read the tagger's labels {str(source)!r}: {exc}") from exc
    missing = [c for c in _COLUMNS if c not in header]
    if missing:
        raise ClassifierLoadError(
            f"tagger labels {str(source)!r} lack the column(s) {', '.join(missing)}; "
            "expected SmilingWolf's header tag_id,name,category,count"
        )
    labels = _parse_rows(rows, source)
    _check_ratings(labels, source)
    return labels


def _parse_rows(rows: Sequence[Mapping[str, str | None]], source: Path) -> TagLabels:
    names: list[str] = []
    categories: list[int] = []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        name = (row.get("name") or "").strip()
        try:
            category = int(row.get("category") or "")
        except ValueError:
            category = -1
        if not name or category < 0:
            raise ClassifierLoadError(
                f"tagger labels {str(source)!r}, line {line}: expected a name and a category number, got {dict(row)}"
            )
        names.append(name)
        categories.append(category)
    return TagLabels(tuple(names), tuple(categories))


def _check_ratings(labels: TagLabels, source: Path) -> None:
    # ``classify`` reads the ratings by position, so the file must put them where it looks.
    expected = tuple(r.label for r in Rating)
    first = labels.names[: len(expected)]
    ratings = all(c == LabelCategory.RATING for c in labels.categories[: len(expected)])
    if first != expected or not ratings:
        raise ClassifierLoadError(
            f"tagger labels {str(source)!r} start with {list(first)}; a WD14 label file starts with "
            f"the rating rows {', '.join(expected)} (category {int(LabelCategory.RATING)})"
        )
