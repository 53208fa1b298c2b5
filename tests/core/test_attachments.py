from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from core.attachments import DISCORD_CDN_HOSTS, AttachmentFetcher, allowed_cdn_hosts
from core.config import DISCORD_API
from core.errors import BadImage

BODY = bytes(range(256)) * 40  # 10 KiB
LIMIT = 4096


async def ok(request: web.Request) -> web.Response:
    return web.Response(body=BODY, content_type="image/png")


async def small(request: web.Request) -> web.Response:
    return web.Response(body=BODY[:1000], content_type="image/png")


async def chunked_flood(request: web.Request) -> web.StreamResponse:
    # No Content-Length: only counting the streamed bytes can catch the lie.
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(100):
        await response.write(b"x" * 1024)
    await response.write_eof()
    return response


async def stalls(request: web.Request) -> web.Response:
    await asyncio.sleep(10)
    return web.Response(body=b"late")


async def trickles(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(100):
        await response.write(b"x")
        await asyncio.sleep(0.05)
    return response


async def missing(request: web.Request) -> web.Response:
    return web.Response(status=404, text="This content is no longer available.")


async def redirects(request: web.Request) -> web.Response:
    raise web.HTTPFound("https://evil.example/steal")


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.add_routes(
        [
            web.get("/ok.png", ok),
            web.get("/small.png", small),
            web.get("/flood.png", chunked_flood),
            web.get("/stalls.png", stalls),
            web.get("/trickles.png", trickles),
            web.get("/missing.png", missing),
            web.get("/redirects.png", redirects),
        ]
    )
    test_server = TestServer(app, host="127.0.0.1")
    async with test_server:
        yield test_server


@pytest.fixture
async def fetcher() -> AsyncIterator[AttachmentFetcher]:
    async with AttachmentFetcher(
        allowed_hosts=DISCORD_CDN_HOSTS | {"127.0.0.1"}, max_bytes=LIMIT * 4, timeout_s=0.5
    ) as attachment_fetcher:
        yield attachment_fetcher


def url(server: TestServer, path: str) -> str:
    return str(server.make_url(path))


async def refused(fetcher: AttachmentFetcher, target: str, declared: int | None = None) -> str:
    with pytest.raises(BadImage) as caught:
        await fetcher.fetch(target, declared)
    return caught.value.message


# --- hosts --------------------------------------------------------------------------------------


def test_allowed_hosts_are_discords_cdn_by_default() -> None:
    assert allowed_cdn_hosts(None) == frozenset({"cdn.discordapp.com", "media.discordapp.net"})
    assert allowed_cdn_hosts(DISCORD_API) == DISCORD_CDN_HOSTS


def test_a_local_discord_adds_its_host() -> None:
    assert allowed_cdn_hosts("http://127.0.0.1:8123/api/v10") == DISCORD_CDN_HOSTS | {"127.0.0.1"}


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/a.png",
        "https://cdn.discordapp.com.evil.example/a.png",
        "file:///etc/passwd",
        "ftp://cdn.discordapp.com/a.png",
        "not a url",
        "http://[::1/a.png",
    ],
)
async def test_host_not_allowed(fetcher: AttachmentFetcher, target: str) -> None:
    assert "isn't a Discord attachment" in await refused(fetcher, target)


async def test_nothing_fetched_for_a_refused_host(server: TestServer) -> None:
    async with AttachmentFetcher(allowed_hosts=DISCORD_CDN_HOSTS) as strict:
        assert "isn't a Discord attachment" in await refused(strict, url(server, "/ok.png"))


# --- sizes --------------------------------------------------------------------------------------


async def test_success(fetcher: AttachmentFetcher, server: TestServer) -> None:
    assert await fetcher.fetch(url(server, "/small.png"), 1000) == BODY[:1000]
    assert await fetcher.fetch(url(server, "/small.png"), None) == BODY[:1000]


async def test_declared_size_too_big_is_refused_before_downloading(fetcher: AttachmentFetcher) -> None:
    # The host resolves nowhere: a download attempt would fail differently.
    message = await refused(fetcher, "https://cdn.discordapp.com/attachments/1/2/big.png", 30 * 1024 * 1024)
    assert message == "This file is 30 MB; the limit is 16 KB. Upload a smaller image."


async def test_a_lying_declared_size_is_caught_by_content_length(server: TestServer) -> None:
    async with AttachmentFetcher(allowed_hosts=frozenset({"127.0.0.1"}), max_bytes=LIMIT, timeout_s=2) as fetcher:
        assert "over 4 KB, the limit" in await refused(fetcher, url(server, "/ok.png"), 100)


async def test_a_lying_stream_is_cut_off_at_the_cap(fetcher: AttachmentFetcher, server: TestServer) -> None:
    assert "over 16 KB, the limit" in await refused(fetcher, url(server, "/flood.png"), 100)


# --- failures -----------------------------------------------------------------------------------


async def test_timeout_before_headers(fetcher: AttachmentFetcher, server: TestServer) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert "took longer than 0.5 seconds" in await refused(fetcher, url(server, "/stalls.png"))
    assert loop.time() - started < 3


async def test_timeout_is_total_not_per_read(fetcher: AttachmentFetcher, server: TestServer) -> None:
    assert "took longer than 0.5 seconds" in await refused(fetcher, url(server, "/trickles.png"))


async def test_http_error(fetcher: AttachmentFetcher, server: TestServer) -> None:
    message = await refused(fetcher, url(server, "/missing.png"))
    assert message.startswith("Discord didn't send the image (HTTP 404)")


async def test_redirects_are_not_followed(fetcher: AttachmentFetcher, server: TestServer) -> None:
    assert "(HTTP 302)" in await refused(fetcher, url(server, "/redirects.png"))


async def test_connection_refused(fetcher: AttachmentFetcher, server: TestServer) -> None:
    target = url(server, "/ok.png")
    await server.close()
    assert "couldn't download the image" in await refused(fetcher, target)


# --- the session --------------------------------------------------------------------------------


async def test_the_session_is_made_on_first_use_and_closed_by_close(server: TestServer) -> None:
    made: list[aiohttp.ClientSession] = []

    def factory() -> aiohttp.ClientSession:
        made.append(aiohttp.ClientSession())
        return made[-1]

    fetcher = AttachmentFetcher(factory, allowed_hosts=frozenset({"127.0.0.1"}), max_bytes=LIMIT, timeout_s=2)
    assert made == []
    await fetcher.fetch(url(server, "/small.png"), None)
    await fetcher.fetch(url(server, "/small.png"), None)
    assert len(made) == 1
    await fetcher.close()
    assert made[0].closed
    await fetcher.close()  # twice is fine


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        AttachmentFetcher(max_bytes=0)
