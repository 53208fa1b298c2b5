"""Downloading a member's attachment, safely.

The URL comes from an interaction payload, so the bot fetches only from Discord's CDN (and the
local Discord the tests run), checks Discord's declared size before downloading, and counts the
bytes as they arrive, since a declared size can lie. Every failure is a BadImage the member
reads; the detail goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp

from core.config import DISCORD_API
from core.errors import BadImage
from core.text import t

log = logging.getLogger(__name__)

DISCORD_CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
DEFAULT_MAX_BYTES = 25 * 1024 * 1024  # Discord's own upload limit without boosts
DEFAULT_TIMEOUT_S = 20.0
_CHUNK = 64 * 1024
_MIB = 1024 * 1024


def allowed_cdn_hosts(api_base_url: str | None) -> frozenset[str]:
    """Discord's CDN hosts, plus the host of a configured non-default API (the local Discord in
    tests serves attachments from its own address)."""
    host = urlsplit(api_base_url).hostname if api_base_url else None
    if host is None or host == urlsplit(DISCORD_API).hostname:
        return DISCORD_CDN_HOSTS
    return DISCORD_CDN_HOSTS | {host}


def _size_text(size: int) -> str:
    if size < _MIB:
        return f"{-(-size // 1024)} KB"
    return f"{size / _MIB:.3g} MB"


def _for_log(url: str) -> str:
    # CDN URLs carry signed query parameters; the path says enough.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class AttachmentFetcher:
    """Fetches attachment bytes through one aiohttp session, opened on first use.

    The fetcher owns the session it makes: whoever owns the fetcher calls close() (or uses it
    as an async context manager). `session_factory` is there for tests and for a shared
    connector; it is called inside the running event loop.
    """

    def __init__(
        self,
        session_factory: Callable[[], aiohttp.ClientSession] = aiohttp.ClientSession,
        *,
        allowed_hosts: frozenset[str] = DISCORD_CDN_HOSTS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if max_bytes <= 0 or timeout_s <= 0:
            raise ValueError("max_bytes and timeout_s must be positive")
        self._session_factory = session_factory
        self._session: aiohttp.ClientSession | None = None
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __aenter__(self) -> AttachmentFetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def fetch(self, url: str, declared_size: int | None) -> bytes:
        """The attachment's bytes, at most max_bytes of them, within timeout_s; else BadImage."""
        self._check_url(url)
        if declared_size is not None and declared_size > self.max_bytes:
            raise BadImage(
                t(
                    "This file is {size}; the limit is {limit}. Upload a smaller image.",
                    size=_size_text(declared_size),
                    limit=_size_text(self.max_bytes),
                )
            )
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._download(url)
        except TimeoutError:
            log.info("attachment download timed out after %ss: %s", self.timeout_s, _for_log(url))
            raise BadImage(
                t(
                    "Downloading the image took longer than {seconds} seconds; try again in a moment.",
                    seconds=f"{self.timeout_s:g}",
                )
            ) from None
        except aiohttp.ClientError as error:
            log.warning("attachment download failed: %s: %r", _for_log(url), error)
            raise BadImage(t("I couldn't download the image from Discord; try again in a moment.")) from None

    def _check_url(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            allowed = parts.scheme in ("https", "http") and parts.hostname in self.allowed_hosts
        except ValueError:  # a malformed IPv6 host or port
            allowed = False
        if not allowed:
            log.warning("attachment URL refused (scheme or host not allowed): %.200s", url)
            raise BadImage(t("That file isn't a Discord attachment; upload the image to Discord and try again."))

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = self._session_factory()
        return self._session

    async def _download(self, url: str) -> bytes:
        # No redirects: one could lead off the allowed hosts, and Discord's CDN serves directly.
        async with self._session_now().get(url, allow_redirects=False) as response:
            if response.status != 200:
                log.warning(
                    "attachment download got HTTP %s: %s (Location: %s)",
                    response.status,
                    _for_log(url),
                    response.headers.get("Location", "-"),
                )
                raise BadImage(
                    t(
                        "Discord didn't send the image (HTTP {status}); it may have expired or been deleted. "
                        "Upload it again.",
                        status=response.status,
                    )
                )
            too_big = BadImage(
                t("This file is over {limit}, the limit; upload a smaller image.", limit=_size_text(self.max_bytes))
            )
            if response.content_length is not None and response.content_length > self.max_bytes:
                raise too_big
            body = bytearray()
            async for chunk in response.content.iter_chunked(_CHUNK):
                body += chunk
                if len(body) > self.max_bytes:  # a lying size (or Content-Length) stops here
                    log.warning("attachment larger than declared, cut off at %s bytes: %s", len(body), _for_log(url))
                    raise too_big
            return bytes(body)
