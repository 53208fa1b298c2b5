"""Discord's message size limits, which the OpenAPI schema does not fully express.

Each check returns `(dotted.path, message)` pairs; `error_tree` turns them into Discord's
nested `errors` object for a 50035 "Invalid Form Body" answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR_NAME = 256
MAX_ACTION_ROWS = 5
MAX_ROW_COMPONENTS = 5
MAX_CUSTOM_ID = 100

Problem = tuple[str, str]


def _too_long(path: str, value: Any, limit: int) -> Iterator[Problem]:
    if isinstance(value, str) and len(value) > limit:
        yield path, f"Must be {limit} or fewer in length (got {len(value)})."


def embed_problems(embeds: Any) -> Iterator[Problem]:
    if not isinstance(embeds, list):
        return
    if len(embeds) > MAX_EMBEDS:
        yield "embeds", f"Must be {MAX_EMBEDS} or fewer in length (got {len(embeds)})."
    total = 0
    for i, embed in enumerate(embeds):
        if not isinstance(embed, dict):
            continue
        p = f"embeds.{i}"
        title = embed.get("title") or ""
        description = embed.get("description") or ""
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        yield from _too_long(f"{p}.title", title, MAX_TITLE)
        yield from _too_long(f"{p}.description", description, MAX_DESCRIPTION)
        yield from _too_long(f"{p}.footer.text", footer, MAX_FOOTER)
        yield from _too_long(f"{p}.author.name", author, MAX_AUTHOR_NAME)
        total += len(title) + len(description) + len(footer) + len(author)
        fields = embed.get("fields") or []
        if len(fields) > MAX_FIELDS:
            yield f"{p}.fields", f"Must be {MAX_FIELDS} or fewer in length (got {len(fields)})."
        for j, fld in enumerate(fields):
            name, value = fld.get("name") or "", fld.get("value") or ""
            yield from _too_long(f"{p}.fields.{j}.name", name, MAX_FIELD_NAME)
            yield from _too_long(f"{p}.fields.{j}.value", value, MAX_FIELD_VALUE)
            total += len(name) + len(value)
    if total > MAX_EMBED_TOTAL:
        yield "embeds", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL} (got {total})."


def _custom_id_problems(path: str, component: dict[str, Any]) -> Iterator[Problem]:
    if "custom_id" in component:
        cid = component["custom_id"]
        if not isinstance(cid, str) or not 1 <= len(cid) <= MAX_CUSTOM_ID:
            yield f"{path}.custom_id", f"Must be between 1 and {MAX_CUSTOM_ID} in length."
    elif component.get("type") == 2 and component.get("style") not in (5, 6):
        # Non-link, non-premium buttons must carry a custom_id.
        yield f"{path}.custom_id", "This field is required"
    for k, child in enumerate(component.get("components") or []):
        if isinstance(child, dict):
            yield from _custom_id_problems(f"{path}.components.{k}", child)


def component_problems(components: Any) -> Iterator[Problem]:
    if not isinstance(components, list):
        return
    rows = [c for c in components if isinstance(c, dict) and c.get("type") == 1]
    if len(rows) > MAX_ACTION_ROWS:
        yield "components", f"Must be {MAX_ACTION_ROWS} or fewer in length (got {len(rows)})."
    for i, comp in enumerate(components):
        if not isinstance(comp, dict):
            continue
        if comp.get("type") == 1 and len(comp.get("components") or []) > MAX_ROW_COMPONENTS:
            yield f"components.{i}.components", f"Must be {MAX_ROW_COMPONENTS} or fewer in length."
        yield from _custom_id_problems(f"components.{i}", comp)


def message_problems(payload: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = list(_too_long("content", payload.get("content"), MAX_CONTENT))
    problems += embed_problems(payload.get("embeds"))
    problems += component_problems(payload.get("components"))
    return problems


def error_tree(problems: list[Problem]) -> dict[str, Any]:
    """[("embeds.0.title", "msg")] -> {"embeds": {"0": {"title": {"_errors": [{code, message}]}}}}."""
    tree: dict[str, Any] = {}
    for path, message in problems:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": "BASE_TYPE_BAD_LENGTH", "message": message})
    return tree
