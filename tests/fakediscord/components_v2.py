"""Discord's rules for Components V2 messages (flag IS_COMPONENTS_V2), which the OpenAPI schema
does not express: such a message has no `content` or `embeds`, keeps the flag for good, has at
most 40 components in all (nested ones count), 4,000 characters across its text displays and
10 items per media gallery, and an `attachment://name` URL must name one of its attachments.

Each check returns `(dotted.path, message)` pairs like `limits`, for a 50035 answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

IS_COMPONENTS_V2 = 1 << 15
MAX_COMPONENTS = 40
MAX_TEXT = 4000
MAX_GALLERY_ITEMS = 10
MAX_ROW_COMPONENTS = 5
# Component types that exist only in V2 messages: section, text display, thumbnail, media
# gallery, file, separator, container.
V2_ONLY_TYPES = frozenset({9, 10, 11, 12, 13, 14, 17})
ATTACHMENT_SCHEME = "attachment://"

Problem = tuple[str, str]
JsonObj = dict[str, Any]


def walk(components: Iterable[Any], path: str = "components") -> Iterator[tuple[str, JsonObj]]:
    """Every component with its path, children (and a section's accessory) included."""
    for i, component in enumerate(components):
        if not isinstance(component, dict):
            continue
        here = f"{path}.{i}"
        yield here, component
        yield from walk(component.get("components") or [], f"{here}.components")
        accessory = component.get("accessory")
        if isinstance(accessory, dict):
            yield f"{here}.accessory", accessory


def media_urls(component: JsonObj) -> Iterator[tuple[str, str]]:
    """(sub-path, url) of the media a component shows: gallery items, a thumbnail, a file."""
    for i, item in enumerate(component.get("items") or []):
        url = ((item or {}).get("media") or {}).get("url")
        if isinstance(url, str):
            yield f"items.{i}.media.url", url
    for key in ("media", "file"):
        url = (component.get(key) or {}).get("url") if isinstance(component.get(key), dict) else None
        if isinstance(url, str):
            yield f"{key}.url", url


def gallery_items(components: Iterable[Any]) -> list[JsonObj]:
    """The media gallery items of a message, in order (tests read their url and spoiler)."""
    return [item for _, c in walk(components) if c.get("type") == 12 for item in c.get("items") or []]


def texts(components: Iterable[Any]) -> list[str]:
    return [str(c.get("content") or "") for _, c in walk(components) if c.get("type") == 10]


def custom_ids(components: Iterable[Any]) -> list[str]:
    return [str(c["custom_id"]) for _, c in walk(components) if "custom_id" in c]


def flag_problems(old_flags: int, payload_flags: Any, *, creating: bool) -> list[Problem]:
    """An edit cannot take IS_COMPONENTS_V2 away once a message has it."""
    if creating or payload_flags is None or not old_flags & IS_COMPONENTS_V2:
        return []
    if not int(payload_flags) & IS_COMPONENTS_V2:
        return [("flags", "Cannot remove the IS_COMPONENTS_V2 flag from a message.")]
    return []


def message_problems(
    *, v2: bool, content: str, embeds: list[Any], components: list[Any], attachments: Iterable[str]
) -> list[Problem]:
    """The problems of a message as it would be after a create or an edit."""
    if not v2:
        return [
            (f"{path}.type", f"Component type {c.get('type')} requires the IS_COMPONENTS_V2 flag.")
            for path, c in walk(components)
            if c.get("type") in V2_ONLY_TYPES
        ]
    problems: list[Problem] = []
    if content.strip():
        problems.append(("content", "The 'content' field cannot be used when using MessageFlags.IS_COMPONENTS_V2"))
    if embeds:
        problems.append(("embeds", "The 'embeds' field cannot be used when using MessageFlags.IS_COMPONENTS_V2"))
    everything = list(walk(components))
    if len(everything) > MAX_COMPONENTS:
        count = len(everything)
        problems.append(("components", f"Must be {MAX_COMPONENTS} or fewer components in total (got {count})."))
    total_text = sum(len(text) for text in texts(components))
    if total_text > MAX_TEXT:
        problems.append(("components", f"Text must be {MAX_TEXT} or fewer in length in all (got {total_text})."))
    names = set(attachments)
    for path, component in everything:
        if component.get("type") == 12 and not 1 <= len(component.get("items") or []) <= MAX_GALLERY_ITEMS:
            problems.append((f"{path}.items", f"Must be between 1 and {MAX_GALLERY_ITEMS} in length."))
        if component.get("type") == 1 and len(component.get("components") or []) > MAX_ROW_COMPONENTS:
            problems.append((f"{path}.components", f"Must be {MAX_ROW_COMPONENTS} or fewer in length."))
        for sub, url in media_urls(component):
            if url.startswith(ATTACHMENT_SCHEME) and url[len(ATTACHMENT_SCHEME) :] not in names:
                problems.append((f"{path}.{sub}", f"{url} does not name an attachment of this message."))
    return problems
