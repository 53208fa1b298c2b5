"""Content ratings, low to high, and the prompt tags Animagine XL 3.1 was trained with."""

from __future__ import annotations

import enum

from core.errors import PromptError
from core.text import t


class Rating(enum.IntEnum):
    """Danbooru ratings; the integer order is the severity order, so ``max``/``<`` work."""

    GENERAL = 0
    SENSITIVE = 1
    QUESTIONABLE = 2
    EXPLICIT = 3

    @property
    def prompt_tags(self) -> tuple[str, ...]:
        return _PROMPT_TAGS[self]

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> Rating:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            allowed = ", ".join(r.label for r in cls)
            raise PromptError(
                t("unknown rating {value}; allowed: {allowed}", value=repr(value), allowed=allowed)
            ) from None


_PROMPT_TAGS: dict[Rating, tuple[str, ...]] = {
    Rating.GENERAL: ("safe",),
    Rating.SENSITIVE: ("sensitive",),
    Rating.QUESTIONABLE: ("nsfw",),
    Rating.EXPLICIT: ("explicit", "nsfw"),
}


def channel_ceiling(age_restricted: bool) -> Rating:
    """Discord's rule: adult content only in age-restricted channels (DMs and threads of
    ordinary channels count as ordinary). No configuration can raise this."""
    return Rating.EXPLICIT if age_restricted else Rating.SENSITIVE
