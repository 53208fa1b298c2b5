"""MODAL_SUBMIT `data` the way Discord builds it from the modal the bot showed (callback type 9).

Discord echoes the modal's layout: each action row (type 1) or label (type 18) comes back with the
text input it holds, now carrying `value` (what the user typed, or the prefilled `value` they left
alone), and every component carries the numeric `id` Discord gave it (the bot's own, or the next
free number, in order). Text displays (type 10) come back as `{type, id}`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from .interaction_builder import InteractionSpecError
from .payloads import JsonObj

ACTION_ROW, TEXT_INPUT, TEXT_DISPLAY, LABEL = 1, 4, 10, 18
MAX_TEXT_INPUT = 4000


def _walk(components: list[JsonObj]) -> Iterator[JsonObj]:
    for comp in components:
        yield comp
        yield from _walk(comp.get("components") or [])
        inner = comp.get("component")
        if isinstance(inner, dict):
            yield inner


class _ModalFiller:
    """Answers each text input of one modal with the test's value, as the Discord client would."""

    def __init__(self, modal: JsonObj, values: dict[str, str]) -> None:
        self.modal = modal
        self.values = values
        self.used: set[str] = set()
        self.inputs: list[str] = []
        taken = {c["id"] for c in _walk(modal.get("components") or []) if isinstance(c.get("id"), int)}
        self._free_ids = (n for n in itertools.count(1) if n not in taken)

    def _id(self, comp: JsonObj) -> int:
        given = comp.get("id")
        return given if isinstance(given, int) else next(self._free_ids)

    def top_level(self, comp: JsonObj) -> JsonObj:
        kind = comp.get("type")
        if kind == ACTION_ROW:
            row_id = self._id(comp)
            return {"type": ACTION_ROW, "id": row_id, "components": [self.field(c) for c in comp["components"]]}
        if kind == LABEL:
            label_id = self._id(comp)
            return {"type": LABEL, "id": label_id, "component": self.field(comp["component"], comp.get("label"))}
        if kind == TEXT_DISPLAY:
            return {"type": TEXT_DISPLAY, "id": self._id(comp)}
        raise InteractionSpecError(f"modal component type {kind} is not supported by the fake: {comp}")

    def field(self, comp: JsonObj, label: str | None = None) -> JsonObj:
        if comp.get("type") != TEXT_INPUT:
            raise InteractionSpecError(f"the fake submits text inputs only, not component type {comp.get('type')}")
        custom_id: str = comp["custom_id"]
        label = comp.get("label") or label
        self.inputs.append(f"{custom_id} ({label})" if label else custom_id)
        # Tests may name a field by custom_id (what Discord sends back) or by its visible label.
        key = next((k for k in (custom_id, label) if k is not None and k in self.values), None)
        if key is None:
            value = comp.get("value") or ""  # left as prefilled
        else:
            self.used.add(key)
            value = self.values[key]
        self._check(comp, label or custom_id, value)
        return {"type": TEXT_INPUT, "id": self._id(comp), "custom_id": custom_id, "value": value}

    def _check(self, comp: JsonObj, name: str, value: Any) -> None:
        """The client's own checks: it will not submit a form that breaks them."""
        if not isinstance(value, str):
            raise InteractionSpecError(f"modal field {name!r}: text inputs take strings, not {value!r}")
        required = comp.get("required")
        if (required is None or required) and not value:
            raise InteractionSpecError(f"modal field {name!r} is required; the client will not submit it empty")
        low = comp.get("min_length") or 0
        high = comp.get("max_length") or MAX_TEXT_INPUT
        if value and not low <= len(value) <= high:
            raise InteractionSpecError(f"modal field {name!r} takes {low}..{high} characters, got {len(value)}")


def modal_submit_data(modal: JsonObj, values: dict[str, str]) -> JsonObj:
    """`data` of the MODAL_SUBMIT for `modal` (the bot's callback-9 `data`), filled with `values`
    keyed by text input custom_id or label; fields not named keep their prefilled `value`."""
    filler = _ModalFiller(modal, values)
    components = [filler.top_level(c) for c in modal.get("components") or []]
    unknown = sorted(set(values) - filler.used)
    if unknown:
        raise InteractionSpecError(f"modal {modal.get('custom_id')!r} has no text input {unknown}: {filler.inputs}")
    return {"custom_id": modal.get("custom_id"), "components": components}
