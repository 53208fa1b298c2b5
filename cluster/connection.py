"""Connecting to NATS (bot and workers alike) and the JetStream streams, consumers and bucket."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from cluster.wire import Names
from core.config import WorkersConfig
from core.errors import ConfigError

log = logging.getLogger(__name__)

DAY_S = 24 * 3600.0
DEDUPE_WINDOW_S = 120.0
FIRST_CONNECT_S = 15.0  # a publish retried within this long (a reconnect) is stored once


def _tls(config: WorkersConfig) -> ssl.SSLContext | None:
    if not (config.nats_url.startswith(("tls://", "wss://")) or config.tls_ca_file):
        return None
    context = ssl.create_default_context(cafile=config.tls_ca_file or None)
    if config.tls_cert_file:
        context.load_cert_chain(config.tls_cert_file, config.tls_key_file or None)
    return context


def connect_options(config: WorkersConfig, name: str) -> dict[str, Any]:
    """nats.connect's keyword arguments: credentials, TLS, and reconnecting for ever (a NATS
    restart must not stop the bot or a worker; what was in flight waits in JetStream)."""
    options: dict[str, Any] = {
        "servers": [config.nats_url],
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "connect_timeout": 5,
        "tls": _tls(config),
    }
    if config.user:
        options.update(user=config.user, password=config.password)
    if config.token:
        options["token"] = config.token
    if config.creds_file:
        options["user_credentials"] = config.creds_file
    if config.nkey_seed_file:
        options["nkeys_seed"] = config.nkey_seed_file
    return options


async def connect(config: WorkersConfig, name: str) -> Client:
    """Connect, or raise ConfigError with the address and what to check."""
    refused: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

    async def disconnected() -> None:
        log.warning("lost the connection to NATS at %s; reconnecting", config.nats_url)

    async def reconnected() -> None:
        log.info("reconnected to NATS at %s", config.nats_url)

    async def error(exc: Exception) -> None:
        # nats-py reports a refused login as a plain Error during the first connection.
        refusal = isinstance(exc, nats.errors.AuthorizationError) or "authorization violation" in str(exc).lower()
        if refusal and not refused.done():
            refused.set_result(exc)  # wrong credentials: retrying will not help
        log.debug("NATS: %s", exc)

    # Reconnecting for ever also retries a first connection for ever: bound that one, so a
    # wrong address or wrong credentials are reported instead of waited on.
    connecting = asyncio.ensure_future(
        nats.connect(
            **connect_options(config, name),
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
            allow_reconnect=True,
        )
    )
    waits: set[asyncio.Future[Any]] = {connecting, refused}
    done, _ = await asyncio.wait(waits, timeout=FIRST_CONNECT_S, return_when=asyncio.FIRST_COMPLETED)
    try:
        if connecting in done:
            return connecting.result()
        raise refused.result() if refused in done else TimeoutError()
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        connecting.cancel()
        raise ConfigError(
            f"[workers] nats_url: cannot connect to NATS at {config.nats_url} ({type(exc).__name__}{_detail(exc)}); "
            "check that nats-server runs with JetStream (-js) and the credentials"
        ) from None


def _detail(exc: BaseException) -> str:
    return f": {exc}" if str(exc) else ""


async def ensure_streams(js: JetStreamContext, names: Names) -> ObjectStore:
    """Create (or update) the work and events streams and the results bucket: the bot does
    this at start-up; workers only use them."""
    work = StreamConfig(
        name=names.work_stream,
        subjects=[f"{names.namespace}.work.>"],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=DEDUPE_WINDOW_S,
    )
    events = StreamConfig(
        name=names.events_stream,
        subjects=[f"{names.namespace}.events.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=DAY_S,
        duplicate_window=DEDUPE_WINDOW_S,
    )
    for config in (work, events):
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:  # exists with other settings: bring it in line
            await js.update_stream(config)
    await js.create_object_store(names.sources_bucket, ObjectStoreConfig(ttl=DAY_S, storage=StorageType.FILE))
    return await js.create_object_store(names.results_bucket, ObjectStoreConfig(ttl=DAY_S, storage=StorageType.FILE))


async def results_bucket(js: JetStreamContext, names: Names, *, wait_s: float = 60.0) -> ObjectStore:
    """The results bucket, waiting (a worker may start before the bot has created it)."""
    return await _bucket(js, names.results_bucket, wait_s)


async def sources_bucket(js: JetStreamContext, names: Names, *, wait_s: float = 60.0) -> ObjectStore:
    """The bucket of remixes' source images (the bot creates it with the streams)."""
    return await _bucket(js, names.sources_bucket, wait_s)


async def _bucket(js: JetStreamContext, name: str, wait_s: float) -> ObjectStore:
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            return await js.object_store(name)
        except NotFoundError:
            if asyncio.get_running_loop().time() > deadline:
                raise ConfigError(
                    f"NATS has no bucket {name!r}: start the bot (it creates the streams) or check [workers] namespace"
                ) from None
            await asyncio.sleep(0.5)


def work_consumer(names: Names, worker: str, config: WorkersConfig) -> ConsumerConfig:
    """A worker's own durable consumer: one message at a time, a heartbeat-extended ack wait."""
    return ConsumerConfig(
        durable_name=names.work_consumer(worker),
        filter_subject=names.work(worker),
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=config.ack_wait_s,
        max_deliver=config.max_deliveries,
        max_ack_pending=1,
        deliver_policy=DeliverPolicy.ALL,
    )


async def bind(js: JetStreamContext, stream: str, config: ConsumerConfig) -> JetStreamContext.PullSubscription:
    """Create the durable consumer, or bring an existing one in line with ``config`` (a changed
    ack_wait_s or max_deliveries must reach JetStream), and pull from it."""
    assert config.durable_name is not None
    await js.add_consumer(stream, config)
    return await js.pull_subscribe_bind(config.durable_name, stream)


def events_consumer(names: Names) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=names.bot_consumer,
        filter_subject=f"{names.namespace}.events.>",
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=10.0,  # an event taken by a pull of a bot that then stopped comes back soon
        deliver_policy=DeliverPolicy.NEW,
    )
