"""The output check's verdict on an image: per-rating probabilities (pure Python, no ONNX)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from prompt.ratings import Rating


@dataclass(frozen=True)
class RatingScores:
    """Per-rating probabilities (independent sigmoids, so they need not sum to 1)."""

    general: float
    sensitive: float
    questionable: float
    explicit: float

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
