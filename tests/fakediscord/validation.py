"""Validate request bodies against Discord's OpenAPI description (vendored openapi.json, MIT).

Operations are looked up by the spec's own path template (aiohttp routes use the same
`{param}` names, so a route's canonical path *is* the spec key) and HTTP method.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SPEC_PATH = Path(__file__).with_name("openapi.json")


@functools.lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    """Parsed once per process (about 1 MB of JSON); treated as read-only afterwards."""
    with SPEC_PATH.open(encoding="utf-8") as fh:
        spec: dict[str, Any] = json.load(fh)
    return spec


@functools.lru_cache(maxsize=256)
def request_validator(spec_path: str, method: str) -> Draft202012Validator | None:
    """Validator for the JSON request body of one operation, or None if it takes no body.

    The schema is the operation's `application/json` body schema placed next to the spec's
    `components`, so `#/components/...` refs resolve exactly as in the whole document.
    Multipart bodies carry the same object in `payload_json`, so they use this schema too.
    """
    spec = load_spec()
    operation = spec["paths"].get(spec_path, {}).get(method.lower())
    if not operation or "requestBody" not in operation:
        return None
    content = operation["requestBody"].get("content", {})
    body_schema = content.get("application/json", {}).get("schema")
    if body_schema is None:
        return None
    root = {"components": spec["components"], **body_schema}
    return Draft202012Validator(root)


def known_operation(spec_path: str, method: str) -> bool:
    return method.lower() in load_spec()["paths"].get(spec_path, {})


SNOWFLAKE_KEYS = frozenset({"id", "users", "roles"})


def stringify_ids(value: Any, key: str = "") -> Any:
    """Discord accepts integer snowflakes where the spec says string (discord.py sends int ids)."""
    if isinstance(value, dict):
        return {k: stringify_ids(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [stringify_ids(v, key) for v in value]
    # Snowflake lists too: discord.py sends allowed_mentions.users/roles as integers, which
    # Discord accepts like any integer snowflake (PROTOCOL.md's leniency).
    if (key in SNOWFLAKE_KEYS or key.endswith("_id")) and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def validate_body(spec_path: str, method: str, body: Any) -> list[str]:
    """Readable problems with `body` for this operation (empty list = valid or nothing to check)."""
    validator = request_validator(spec_path, method)
    if validator is None:
        return []
    problems = []
    for error in validator.iter_errors(stringify_ids(body)):
        # anyOf failures hide the real cause in `context`; show the most specific leaves.
        leaves = sorted(error.context or [], key=lambda e: -len(e.absolute_path))[:3]
        detail = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}" for e in leaves)
        where = "/".join(map(str, error.absolute_path)) or "<root>"
        problems.append(
            f"{method.upper()} {spec_path}: {where}: {error.message[:300]}" + (f" [{detail}]" if detail else "")
        )
    return problems
