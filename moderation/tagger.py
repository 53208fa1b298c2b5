"""The full WD14 tagger behind ``/describe``: an image's rating, general tags and characters.

A tagger is the output classifier's ONNX session (``moderation.classifier``) plus the labels
of every output, so one loaded model can serve both ``/describe`` and the output check. The
labels are the model's ``selected_tags.csv`` (SmilingWolf's format: ``tag_id,name,category,
count``; category 9 rating, 4 character, 0 general), one row per output, in output order.

``tag`` is synchronous and CPU/GPU bound, like ``classify``: callers run it in a thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import ClassifierLoadError
from moderation.classifier import WD14Classifier, labels_path, resolve_model_path, resolve_providers
from moderation.labels import LABELS_FILENAME, LabelCategory, TagLabels, read_labels
from moderation.scores import RatingScores
from prompt.ratings import Rating

# The label file's reading lives in moderation.labels (the classifier reads it too); its names
# stay importable from here, where /describe's callers and tests have always found them.
__all__ = [
    "DEFAULT_CHARACTER_THRESHOLD",
    "DEFAULT_GENERAL_THRESHOLD",
    "LABELS_FILENAME",
    "ClassifierLoadError",
    "ImageTags",
    "LabelCategory",
    "TagConfidences",
    "TagLabels",
    "WD14Tagger",
    "read_labels",
]

DEFAULT_GENERAL_THRESHOLD = 0.35
DEFAULT_CHARACTER_THRESHOLD = 0.85

TagConfidences = tuple[tuple[str, float], ...]


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
        return cls(model_path, labels_path(source, model_path, cache_dir=cache_dir), providers=providers)

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
            scores=RatingScores.of(probs[: len(Rating)]),
            general=self._confident(probs, self._general, general_threshold),
            characters=self._confident(probs, self._characters, character_threshold),
        )

    def _confident(self, probs: np.ndarray, indices: np.ndarray, threshold: float) -> TagConfidences:
        kept = indices[probs[indices] >= threshold]
        # Stable, so equal confidences keep the label file's order and results are reproducible.
        ordered = kept[np.argsort(-probs[kept], kind="stable")]
        return tuple((self.labels.names[i], float(probs[i])) for i in ordered)
