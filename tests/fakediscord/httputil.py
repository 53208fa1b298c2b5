"""HTTP plumbing shared by the REST routes: Discord-shaped JSON responses, errors, body parsing."""

from __future__ import annotations

import json
import mimetypes
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from .state import Attachment

JSON_HEADERS = {"Content-Type": "application/json"}


def ratelimit_headers(bucket: str) -> dict[str, str]:
    """Generous limits that never hit zero, so discord.py never pre-emptively sleeps."""
    return {
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "999",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": bucket,
    }


def json_response(data: Any, status: int = 200, bucket: str = "fake") -> web.Response:
    # Exactly "application/json": web.json_response appends "; charset=utf-8", and discord.py
    # then returns the body as a plain string instead of parsing it.
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={**JSON_HEADERS, **ratelimit_headers(bucket)}
    )


def no_content() -> web.Response:
    return web.Response(status=204, headers=ratelimit_headers("fake"))


class ApiError(Exception):
    """Raised by handlers; the middleware turns it into Discord's `{code, message, errors?}`."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def response(self) -> web.Response:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return json_response(body, self.status)


def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def missing_access() -> ApiError:
    """The bot asked about a guild it is not in, or a channel it is no member of (group DMs)."""
    return ApiError(403, 50001, "Missing Access")


@dataclass
class Body:
    """A parsed request body: the JSON object (or payload_json) plus uploaded files by index."""

    payload: Any
    files: dict[int, Attachment] = field(default_factory=dict)
    multipart: bool = False


def _file_index(name: str) -> int | None:
    # discord.py names parts "files[0]", "files[1]", ...
    if name.startswith("files[") and name.endswith("]"):
        try:
            return int(name[6:-1])
        except ValueError:
            return None
    return None


async def read_body(request: web.Request, max_file_size: int) -> Body:
    """Parse JSON or multipart (payload_json + files[n]); enforce the per-file size limit."""
    if request.content_type.startswith("multipart/"):
        payload: Any = {}
        files: dict[int, Attachment] = {}
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue  # nested multipart: discord.py never sends one
            name = part.name or ""
            data = await part.read()
            if name == "payload_json":
                try:
                    payload = json.loads(data)
                except ValueError as exc:
                    raise ApiError(400, 50109, f"The request body contains invalid JSON: {exc}") from exc
                continue
            index = _file_index(name)
            if index is None:
                continue
            if len(data) > max_file_size:
                raise ApiError(413, 40005, "Request entity too large")
            filename = part.filename or f"file{index}"
            guessed = mimetypes.guess_type(filename)[0]
            files[index] = Attachment(
                filename=filename,
                content_type=guessed or part.headers.get("Content-Type"),
                data=bytes(data),
            )
        return Body(payload=payload, files=files, multipart=True)
    raw = await request.read()
    if not raw:
        return Body(payload=None)
    try:
        return Body(payload=json.loads(raw))
    except ValueError as exc:
        raise ApiError(400, 50109, f"The request body contains invalid JSON: {exc}") from exc
