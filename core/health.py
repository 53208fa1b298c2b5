"""One small HTTP server (``[metrics] address``): ``/metrics`` for Prometheus, ``/healthz`` (the
process answers) and ``/readyz`` (every readiness check passes), for the bot and for each GPU
worker process. Docker's HEALTHCHECK calls /healthz; a load balancer or an alert, /readyz.

A readiness check is an async callable that returns None when all is well, or what is wrong in
words; each runs at request time with a short timeout, so /readyz says what holds now.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from core.config import split_address
from core.errors import ConfigError
from jobs.backend import Fleet

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]
CHECK_TIMEOUT_S = 2.0


class HealthServer:
    def __init__(
        self,
        address: str,
        registry: CollectorRegistry,
        checks: Mapping[str, Check],
        *,
        check_timeout_s: float = CHECK_TIMEOUT_S,
    ) -> None:
        self._host, self._port = split_address(address)
        self._registry = registry
        self._checks = dict(checks)
        self._timeout = check_timeout_s
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system for port 0)."""
        assert self._runner is not None, "start() first"
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(app, access_log=None)  # Prometheus calls every few seconds
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except OSError as exc:
            await runner.cleanup()
            where = f"{self._host}:{self._port}"
            raise ConfigError(
                f"[metrics] address: cannot listen on {where} ({exc.strerror or exc}); is another bot or "
                'worker using it? Pick another port, or set address = "" to turn the server off'
            ) from None
        self._runner = runner
        log.info("metrics and health checks on http://%s:%d/metrics, /healthz, /readyz", self._host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        # The collectors read in-memory state (and torch's counters): fast, and safe only here
        # on the event loop that owns that state.
        return web.Response(body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(self._checks[name]) for name in names))
        failing = {name: problem for name, problem in zip(names, results, strict=True) if problem is not None}
        body = {"ready": not failing, "checks": {name: failing.get(name, "ok") for name in names}}
        return web.Response(
            text=json.dumps(body, indent=2) + "\n", status=503 if failing else 200, content_type="application/json"
        )

    async def _run(self, check: Check) -> str | None:
        try:
            return await asyncio.wait_for(check(), self._timeout)
        except TimeoutError:
            return f"no answer within {self._timeout:g} s"
        except Exception as exc:  # a failing check is "not ready", never a crashed endpoint
            return f"{type(exc).__name__}: {exc}"


@contextlib.asynccontextmanager
async def serving(address: str, registry: CollectorRegistry, checks: Mapping[str, Check]) -> AsyncIterator[None]:
    """The server for the duration of the block; none when ``address`` is "" (turned off)."""
    if not address:
        yield
        return
    server = HealthServer(address, registry, checks)
    await server.start()
    try:
        yield
    finally:
        await server.close()


# --- readiness checks -------------------------------------------------------------------------


class _Gateway(Protocol):
    def is_ready(self) -> bool: ...

    def is_closed(self) -> bool: ...

    @property
    def shards(self) -> Mapping[int, _Shard]: ...


class _Shard(Protocol):
    def is_closed(self) -> bool: ...


def gateway_check(bot: _Gateway) -> Check:
    async def check() -> str | None:
        if not bot.is_ready() or bot.is_closed():
            return "not connected to the Discord gateway yet"
        closed = sorted(shard_id for shard_id, shard in bot.shards.items() if shard.is_closed())
        return f"gateway shard(s) {closed} disconnected" if closed else None

    return check


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> str | None:
        from sqlalchemy import text

        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return None

    return check


def model_check(fleet: Fleet) -> Check:
    """This process's own GPU (or a GPU worker process's): the model is loaded."""

    async def check() -> str | None:
        workers = list(fleet.workers())
        if any(worker.state in ("ready", "busy") for worker in workers):
            return None
        failed = next((worker.error for worker in workers if worker.state == "failed"), None)
        return f"the model failed to load: {failed}" if failed else "the model is still loading"

    return check


def workers_check(fleet: Fleet) -> Check:
    """GPU worker processes over NATS: at least one is online."""

    async def check() -> str | None:
        if any(worker.state in ("ready", "busy") for worker in fleet.workers()):
            return None
        return "no GPU worker online"

    return check
