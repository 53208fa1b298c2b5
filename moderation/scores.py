"""The output check's verdict on an image: per-rating probabilities and, when the tagger reads
them, its most confident minor-coded label (pure Python, no ONNX)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from prompt.ratings import Rating


@dataclass(frozen=True)
class MinorScore:
    """The most confident minor-coded label the tagger saw (``loli``, ``child``, …) and its
    confidence; NaN when the model is broken (the minor rule then withholds the image)."""

    tag: str
    confidence: float


@dataclass(frozen=True)
class RatingScores:
    """Per-rating probabilities (independent sigmoids, so they need not sum to 1).

    ``minor``: None when the classifier reads no minor-coded labels (the minor rule off on the
    classifier's side, or a GPU worker of an older version): the minor rule then has nothing to
    judge, and the rating rules alone apply.
    """

    general: float
    sensitive: float
    questionable: float
    explicit: float
    minor: MinorScore | None = None

    @classmethod
    def of(cls, ratings: Iterable[float], minor: MinorScore | None = None) -> RatingScores:
        """From the four rating outputs in label order (general, sensitive, questionable, explicit)."""
        general, sensitive, questionable, explicit = (float(v) for v in ratings)
        return cls(general, sensitive, questionable, explicit, minor)

    def score(self, rating: Rating) -> float:
        return float(getattr(self, rating.label))

    def as_dict(self) -> dict[Rating, float]:
        return {r: self.score(r) for r in Rating}

    def rating(self) -> Rating:
        """The rating with the highest score.

        Ties go to the *higher* (more severe) rating, to err on the safe side; a NaN score
        (a broken model) also yields ``EXPLICIT`` rather than letting an image through.
        """
        scores = self.as_dict()
        if any(math.isnan(s) for s in scores.values()):
            return Rating.EXPLICIT
        return max(Rating, key=lambda r: (scores[r], r))
