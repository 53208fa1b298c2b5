"""A message a member will read, kept as its English template and values until it is shown.

Every layer may build one (prompt, quota, moderation and jobs included: this module imports
nothing, so the layers contract lists it as a shared leaf like ``core.errors``)::

    from core.text import t
    raise InvalidOption("steps", t("Steps must be between {low} and {high}; got {got}.", low=1, high=60, got=99))

Rules for writing one, so that ``scripts/i18n.py extract`` finds it and translators can work:

- the first argument of ``t`` is a plain string literal (adjacent literals are fine; no
  f-string, no variable), with ``{name}`` placeholders filled by keyword values;
- values are shown as they are: Danbooru tags, preset names, prompts, numbers, mentions and
  ``parameters`` text stay untranslated. A value may itself be a ``Text`` (a part of a sentence
  that is translated on its own), rendered in the same locale;
- format numbers before passing them (``f"{cfg:g}"``) so that translators see only names.

Rendering happens at the edge, in the reader's locale: ``core.i18n.render(text, locale)``
(``interaction.locale`` for a member, ``interaction.guild_locale`` or the guild's
``preferred_locale`` for a moderator log line). ``str(text)`` is the English rendering, so
logs and code that only know English keep working. To localise a module that still builds
English strings (core/messenger.py, core/result_view.py, core/job_items.py, cogs/results.py,
cogs/job_controls.py are next):

1. wrap each literal in ``t(...)``; keep returning ``Text`` (or join with ``lines``), or take a
   ``locale`` argument and ``render`` at the end (see core/quota_text.py);
2. render where the message is sent: ``interaction.locale`` in a callback; for a job's messages
   ``reply.locale`` (``core.replies.Reply``: the interaction's, or after a restart the one stored
   with the job, ``jobs.locale``; pass ``locale=record.locale`` to ``StoredReply``);
3. button labels, select options and modal titles are messages too (render them when the view
   is built: a persistent item's label is only shown, never matched);
4. ``python scripts/i18n.py extract && python scripts/i18n.py update``, then translate.

Raising ``UserFacingError(t(...))`` needs nothing more: ``core.funnel`` renders ``error.text``
in the member's locale, while ``error.message`` (and ``str(error)``) stay English for logs,
the audit log and metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

# A function that gives the translated template of an English one (None: keep the English).
Lookup = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class Text:
    """An English template (the catalog's msgid) and the values for its placeholders."""

    msgid: str
    values: tuple[tuple[str, object], ...] = ()  # (placeholder, value) pairs: hashable when they are

    def render(self, lookup: Lookup | None = None) -> str:
        template = (lookup(self.msgid) if lookup else None) or self.msgid
        if not self.values:
            return template
        values = {name: as_text(value, lookup) for name, value in self.values}
        try:
            return template.format(**values)
        except (KeyError, IndexError, ValueError):
            # A broken translation must not hide the message: the English one always formats.
            return self.msgid.format(**values)

    def __str__(self) -> str:
        return self.render()


@dataclass(frozen=True, slots=True)
class Lines:
    """Several messages shown together, joined by ``separator`` (one per line by default)."""

    parts: tuple[Message, ...]
    separator: str = "\n"

    def render(self, lookup: Lookup | None = None) -> str:
        return self.separator.join(as_text(part, lookup) for part in self.parts)

    def __str__(self) -> str:
        return self.render()


Message = Union[str, Text, Lines]  # noqa: UP007 (a forward reference: Lines names Message)


def t(msgid: str, /, **values: object) -> Text:
    """Mark an English message for translation (``scripts/i18n.py extract`` collects these)."""
    return Text(msgid, tuple(values.items()))


def lines(*parts: Message, separator: str = "\n") -> Lines:
    return Lines(tuple(parts), separator)


def as_text(value: object, lookup: Lookup | None = None) -> str:
    """A value as shown: a message in the lookup's language, anything else as it is."""
    if isinstance(value, Text | Lines):
        return value.render(lookup)
    return str(value)
