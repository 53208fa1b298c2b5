"""Prefix autocomplete of Danbooru tags for Discord's prompt option.

Each keystroke completes the tag being typed (the text after the last comma) by name or
alias prefix, most used tags first. A choice's value is the whole prompt with that tag
completed, because Discord replaces the option's text with the chosen value.

Discord allows 1-100 characters for a choice's name and value. A completed prompt longer
than 100 characters cannot be offered, so such choices are left out (a long prompt gets
fewer or no suggestions, never an error); the user can keep typing freely since
autocomplete only suggests.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from prompt.tags import TagCategory, TagDatabase, TagInfo, tag_key, tag_to_prompt

DISCORD_CHOICE_LIMIT = 25
DISCORD_TEXT_LIMIT = 100
_OPENERS = "(["


@dataclass(frozen=True, slots=True)
class Choice:
    name: str
    value: str


def _fit_name(base: str, label: str) -> str:
    # Keep the end (the tag just completed, and its label) visible when the prompt is long.
    room = DISCORD_TEXT_LIMIT - len(label)
    if room < 2:
        return (base + label)[-DISCORD_TEXT_LIMIT:]
    if len(base) > room:
        base = "…" + base[-(room - 1) :]
    return base + label


class TagIndex:
    """Sorted name/alias keys; a prefix is a contiguous range found by bisection."""

    def __init__(self, db: TagDatabase) -> None:
        tags = list(db)  # most used first, so a smaller rank is a better match
        self._tags: tuple[TagInfo, ...] = tuple(tags)
        self._prompt_forms = tuple(t.prompt_form for t in tags)
        series = (db.series(t.name) if t.category == TagCategory.CHARACTER else None for t in tags)
        self._series = tuple(tag_to_prompt(s) if s else None for s in series)
        entries = sorted({(key, rank) for rank, t in enumerate(tags) for key in (t.name, *t.aliases)})
        self._keys = [k for k, _ in entries]
        self._ranks = [r for _, r in entries]

    @classmethod
    def from_database(cls, db: TagDatabase) -> TagIndex:
        return cls(db)

    def __len__(self) -> int:
        return len(self._keys)

    def complete(self, text: str, limit: int = DISCORD_CHOICE_LIMIT) -> list[Choice]:
        """Up to ``limit`` (at most 25) choices completing the last tag of ``text``."""
        limit = min(limit, DISCORD_CHOICE_LIMIT)
        comma = text.rfind(",")
        head = text[: comma + 1]
        fragment = text[comma + 1 :].lstrip()
        stripped = fragment.lstrip(_OPENERS)
        opener = fragment[: len(fragment) - len(stripped)]
        prefix = tag_key(stripped.replace("\\", ""))
        if not prefix or limit <= 0:
            return []
        start = head + " " + opener if head else opener
        room = DISCORD_TEXT_LIMIT - len(start)
        if room <= 0:
            return []

        lo = bisect.bisect_left(self._keys, prefix)
        hi = bisect.bisect_left(self._keys, prefix + "\U0010ffff", lo)
        choices: list[Choice] = []
        for rank in sorted(set(self._ranks[lo:hi])):
            completed = self._prompt_forms[rank]
            if len(completed) > room:
                continue
            info = self._tags[rank]
            label = ""
            if not info.name.startswith(prefix):
                alias = next((a for a in info.aliases if a.startswith(prefix)), prefix)
                label += f" ← {tag_to_prompt(alias)}"
            if self._series[rank]:
                label += f" · {self._series[rank]}"
            value = start + completed
            choices.append(Choice(_fit_name(value, label), value))
            if len(choices) == limit:
                break
        return choices
