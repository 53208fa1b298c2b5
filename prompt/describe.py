"""``/describe``: a tagger's tags -> a prompt in the order Animagine XL 3.1 was trained on.

The order is the model card's ``1girl/1boy, character name, series name, everything else``:
count tags (``1girl``, ``2boys``, ``multiple girls``), then the characters, then each
character's series from the Danbooru data (after all characters, each once), then the other
general tags, most confident first. Tags are written as ``TagInfo.prompt_form`` writes them:
spaces for underscores except in kaomoji (``^_^``, ``>_<``), and ``\\(`` ``\\)`` so that
``rem (re:zero)`` is read as text, not as emphasis.

Pure Python: the confidences come from ``moderation.tagger`` through the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prompt.tags import TagDatabase, escape_tag, is_count_tag, tag_to_prompt

TagConfidences = tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class Described:
    """A described image: the prompt, and the tags it was built from, in prompt order.

    Names are Danbooru's (underscores), as the tagger's label file spells them;
    ``series`` come from the tag data, so they have no confidence of their own.
    """

    prompt: str
    characters: TagConfidences
    series: tuple[str, ...]
    general: TagConfidences

    def top(self, n: int) -> TagConfidences:
        """The ``n`` most confident characters and general tags, for display."""
        if n < 0:
            raise ValueError(f"n must be 0 or more, got {n}")
        return _by_confidence((*self.characters, *self.general))[:n]


def prompt_tag(name: str) -> str:
    """A Danbooru name as it is written in a prompt: ``rem_(re:zero)`` -> ``rem \\(re:zero\\)``."""
    return escape_tag(tag_to_prompt(name))


def describe_prompt(
    characters: Sequence[tuple[str, float]],
    general: Sequence[tuple[str, float]],
    tags: TagDatabase,
) -> Described:
    """Order a tagger's characters and general tags into an Animagine prompt (see module doc)."""
    people = _by_confidence(characters)
    ranked = _by_confidence(general)
    series = _series(people, tags)
    taken = set(series)
    # A series the tagger also reported as a general tag is written once, in the series' place.
    rest = [(name, conf) for name, conf in ranked if name not in taken]
    counts = [(name, conf) for name, conf in rest if is_count_tag(name)]
    others = [(name, conf) for name, conf in rest if not is_count_tag(name)]
    ordered_general = (*counts, *others)
    names = [name for name, _ in counts] + [name for name, _ in people] + list(series) + [n for n, _ in others]
    return Described(
        prompt=", ".join(prompt_tag(name) for name in names),
        characters=people,
        series=series,
        general=ordered_general,
    )


def _by_confidence(pairs: Iterable[tuple[str, float]]) -> TagConfidences:
    """Most confident first (ties keep their order); a repeated name keeps its best entry."""
    best: dict[str, float] = {}
    for name, confidence in pairs:
        if name not in best or confidence > best[name]:
            best[name] = confidence
    return tuple(sorted(best.items(), key=lambda pair: -pair[1]))


def _series(characters: TagConfidences, tags: TagDatabase) -> tuple[str, ...]:
    found: list[str] = []
    for name, _ in characters:
        series = tags.series(name)
        if series is not None and series not in found:
            found.append(series)
    return tuple(found)
