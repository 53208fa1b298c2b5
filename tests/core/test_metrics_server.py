"""core.health: /metrics, /healthz and /readyz on the [metrics] address; ready only once every
check passes (the model loaded, above all); no server with address = ""; clear errors."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, Counter

from core import health
from core.config import load_config, parse_config, split_address
from core.errors import ConfigError
from core.health import Check, HealthServer, database_check, gateway_check, model_check, serving, workers_check
from jobs.backend import WorkerStatus


class _Loader:
    """A model that loads slowly: the fleet as a GenerationWorker shows it."""

    def __init__(self) -> None:
        self.state = "loading"
        self.error = ""

    def workers(self) -> list[WorkerStatus]:
        status = WorkerStatus("local", "cpu", self.state, (), 0, None, 0.0, self.error)
        return [status]


async def _ok() -> str | None:
    return None


async def _get(port: int, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as response:
        return response.status, response.headers["Content-Type"], await response.text()


async def _server(checks: dict[str, Check], registry: CollectorRegistry | None = None) -> HealthServer:
    server = HealthServer("127.0.0.1:0", registry or CollectorRegistry(), checks, check_timeout_s=0.3)
    await server.start()
    return server


async def test_readyz_turns_ready_only_once_the_model_is_loaded() -> None:
    loader = _Loader()
    server = await _server({"model": model_check(loader), "database": _ok})
    try:
        status, kind, body = await _get(server.port, "/readyz")
        assert (status, kind) == (503, "application/json; charset=utf-8")
        assert '"model": "the model is still loading"' in body and '"database": "ok"' in body
        assert (await _get(server.port, "/healthz"))[0] == 200  # the process answers meanwhile
        loader.state = "ready"
        status, _, body = await _get(server.port, "/readyz")
        assert status == 200 and '"ready": true' in body
        loader.state, loader.error = "failed", "[model] source 'x' was not found"
        status, _, body = await _get(server.port, "/readyz")
        assert status == 503 and "the model failed to load: [model] source 'x' was not found" in body
    finally:
        await server.close()


async def test_a_slow_or_broken_check_is_not_ready_and_says_why() -> None:
    async def slow() -> str | None:
        await asyncio.sleep(5)
        return None

    async def broken() -> str | None:
        raise OSError("connection refused")

    server = await _server({"database": slow, "gateway": broken})
    try:
        status, _, body = await _get(server.port, "/readyz")
        assert status == 503
        assert '"database": "no answer within 0.3 s"' in body
        assert '"gateway": "OSError: connection refused"' in body
    finally:
        await server.close()


async def test_metrics_are_served_in_the_prometheus_text_format() -> None:
    registry = CollectorRegistry()
    Counter("animagine_test", "A test counter", registry=registry).inc(3)
    server = await _server({}, registry)
    try:
        status, kind, body = await _get(server.port, "/metrics")
        assert status == 200 and kind.startswith("text/plain; version=")
        assert "animagine_test_total 3.0" in body
        assert (await _get(server.port, "/readyz"))[0] == 200  # nothing to wait for
        assert (await _get(server.port, "/nothing"))[0] == 404
    finally:
        await server.close()


async def test_an_empty_address_starts_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_server(*args: object, **kwargs: object) -> None:
        raise AssertionError("a server was started")

    monkeypatch.setattr(health, "HealthServer", no_server)
    async with serving("", CollectorRegistry(), {}):
        pass


async def test_serving_listens_for_the_block_only() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with serving(f"127.0.0.1:{port}", CollectorRegistry(), {}):
        assert (await _get(port, "/healthz"))[0:3:2] == (200, "ok\n")
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(port, "/healthz")


async def test_a_taken_port_is_a_config_error_that_says_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"cannot listen on 127\.0\.0\.1:{port} .*address = \"\""):
            async with serving(f"127.0.0.1:{port}", CollectorRegistry(), {}):
                pass


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1:", ":9464", "127.0.0.1:70000", "127.0.0.1:http"])
def test_a_bad_address_is_a_config_error(address: str) -> None:
    with pytest.raises(ConfigError, match=r'\[metrics\] address must be "host:port"') as caught:
        parse_config({"metrics": {"address": address}})
    assert repr(address) in str(caught.value)


def test_the_address_defaults_to_localhost_and_can_be_turned_off() -> None:
    assert parse_config({}).metrics.address == "127.0.0.1:9464"
    assert parse_config({"metrics": {"address": ""}}).metrics.address == ""
    assert split_address("[::1]:9464") == ("::1", 9464)
    assert split_address("0.0.0.0:0") == ("0.0.0.0", 0)


def test_the_example_config_documents_the_metrics_section() -> None:
    from tests.core.test_config import ROOT

    assert load_config(ROOT / "config.example.toml").metrics.address == "127.0.0.1:9464"


class _Shard:
    def __init__(self, closed: bool) -> None:
        self.closed = closed

    def is_closed(self) -> bool:
        return self.closed


class _Bot:
    def __init__(self) -> None:
        self.ready = False
        self.shards = {0: _Shard(False), 1: _Shard(False)}

    def is_ready(self) -> bool:
        return self.ready

    def is_closed(self) -> bool:
        return False


async def test_gateway_and_workers_checks() -> None:
    bot = _Bot()
    check = gateway_check(bot)
    assert await check() == "not connected to the Discord gateway yet"
    bot.ready = True
    assert await check() is None
    bot.shards[1].closed = True
    assert await check() == "gateway shard(s) [1] disconnected"

    fleet = _Loader()
    fleet.state = "gone"
    assert await workers_check(fleet)() == "no GPU worker online"
    fleet.state = "busy"
    assert await workers_check(fleet)() is None


async def test_database_check_runs_a_query(tmp_path: Path) -> None:
    from db.engine import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/bot.db")
    try:
        assert await database_check(engine)() is None
    finally:
        await engine.dispose()
    missing = create_engine("postgresql+asyncpg://bot@127.0.0.1:1/bot")  # nothing listens there
    try:
        with pytest.raises(OSError):
            await database_check(missing)()
    finally:
        await missing.dispose()
