"""The full WD14 tagger behind ``/describe``: an image's rating, general tags and characters.

A tagger is the output classifier's ONNX session (``moderation.classifier``) plus the labels
of every output, so one loaded model can serve both ``/describe`` and the output check. The
labels are the model's ``selected_tags.csv`` (SmilingWolf's format: ``tag_id,name,category,
count``; category 9 rating, 4 character, 0 general), one row per output, in output order.

``tag`` is synchronous and CPU/GPU bound, like ``classify``: callers run it in a thread.
"""

from __future__ import annotations

import csv
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import ClassifierLoadError
from moderation.classifier import (
    MODEL_FILENAME,
    WD14Classifier,
    download_from_hub,
    resolve_model_path,
    resolve_providers,
)
from moderation.scores import RatingScores
from prompt.ratings import Rating

LABELS_FILENAME = "selected_tags.csv"
DEFAULT_GENERAL_THRESHOLD = 0.35
DEFAULT_CHARACTER_THRESHOLD = 0.85
_COLUMNS = ("name", "category")

TagConfidences = tuple[tuple[str, float], ...]


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


@dataclass(frozen=True)
class ImageTags:
    """What the tagger saw: per-rating scores, and the tags above their thresholds.

    ``general`` and ``characters`` are ``(name, confidence)`` pairs, most confident first,
    names as in the label file (``long_hair``, ``rem_(re:zero)``).
    """

    scores: RatingScores
    general: TagConfidences
    characters: TagConfidences

    @property
    def rating(self) -> Rating:
        return self.scores.rating()


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


def _check_threshold(name: str, value: float) -> None:
    if not (0 < value <= 1) or math.isnan(value):
        raise ValueError(f"{name} must be above 0 and at most 1, got {value!r}")


class WD14Tagger(WD14Classifier):
    """A SmilingWolf WD14 ONNX tagger read in full: ratings, general tags and characters."""

    def __init__(self, model_path: Path, labels_path: Path, *, providers: Sequence[str] | None = None) -> None:
        super().__init__(model_path, providers=providers)
        self.labels_path = Path(labels_path)
        self.labels: TagLabels = read_labels(self.labels_path)
        if self.output_width is not None and self.output_width != len(self.labels):
            raise ClassifierLoadError(
                f"tagger labels {str(self.labels_path)!r} have {len(self.labels)} rows but the model "
                f"{str(self.model_path)!r} has {self.output_width} outputs; they must be the same model's files"
            )
        self._general = self.labels.indices(LabelCategory.GENERAL)
        self._characters = self.labels.indices(LabelCategory.CHARACTER)

    @classmethod
    def from_source(cls, source: str, *, cache_dir: str | None = None, device: str = "cpu") -> WD14Tagger:
        """Load from a folder with ``model.onnx`` + ``selected_tags.csv``, an ``.onnx`` file with
        ``selected_tags.csv`` beside it, or a Hub repo id (both files downloaded on first use)."""
        providers = resolve_providers(device)
        model_path = resolve_model_path(source, cache_dir=cache_dir)
        return cls(model_path, _labels_path(source, model_path, cache_dir), providers=providers)

    def tag(
        self,
        image: Image.Image,
        *,
        general_threshold: float = DEFAULT_GENERAL_THRESHOLD,
        character_threshold: float = DEFAULT_CHARACTER_THRESHOLD,
    ) -> ImageTags:
        """The rating scores and every general/character tag at or above its threshold."""
        _check_threshold("general_threshold", general_threshold)
        _check_threshold("character_threshold", character_threshold)
        probs = self.probabilities(image)
        if probs.shape[0] != len(self.labels):
            raise RuntimeError(
                f"tagger {str(self.model_path)!r} returned {probs.shape[0]} scores for {len(self.labels)} labels"
            )
        return ImageTags(
            scores=RatingScores(*(float(v) for v in probs[: len(Rating)])),
            general=self._confident(probs, self._general, general_threshold),
            characters=self._confident(probs, self._characters, character_threshold),
        )

    def _confident(self, probs: np.ndarray, indices: np.ndarray, threshold: float) -> TagConfidences:
        kept = indices[probs[indices] >= threshold]
        # Stable, so equal confidences keep the label file's order and results are reproducible.
        ordered = kept[np.argsort(-probs[kept], kind="stable")]
        return tuple((self.labels.names[i], float(probs[i])) for i in ordered)


def _labels_path(source: str, model_path: Path, cache_dir: str | None) -> Path:
    if Path(source).expanduser().exists():
        labels = model_path.parent / LABELS_FILENAME
        if not labels.is_file():
            raise ClassifierLoadError(
                f"tagger source {source!r} has no {LABELS_FILENAME} beside {model_path.name}; a WD14 tagger "
                f"needs both files of its repo ({MODEL_FILENAME} and {LABELS_FILENAME})"
            )
        return labels
    # resolve_model_path accepted the source, so it is a Hub repo id.
    return download_from_hub(source, LABELS_FILENAME, cache_dir=cache_dir)
