"""Images in the JetStream object stores: the PNGs of finished jobs, put by the worker that made
them and read (then removed) by the bot, and remixes' source images, put by the bot and read by
the worker; all retried, since NATS may be reconnecting."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.js.object_store import ObjectStore

from cluster.wire import Event
from jobs.model import GenerationResult

log = logging.getLogger(__name__)

RETRY_S = 0.5
UPLOAD_TRIES = 10
READ_TRIES = 4


async def upload(store: ObjectStore, key: str, png: bytes) -> None:
    """Until the object store has it (a put to the same key replaces a partial one)."""
    for attempt in range(UPLOAD_TRIES):
        try:
            await store.put(key, png)
            return
        except Exception as exc:
            if attempt == UPLOAD_TRIES - 1:
                raise
            log.warning("could not store %s (%s); retrying", key, exc)
            await asyncio.sleep(RETRY_S * (attempt + 1))


async def exists(store: ObjectStore, key: str) -> bool:
    try:
        await store.get_info(key)
    except Exception:  # not there (or NATS away: then the put that follows retries)
        return False
    return True


async def read(store: ObjectStore, key: str) -> bytes | None:
    """One object (a result PNG, a remix's source), retried while NATS reconnects; None when gone."""
    for attempt in range(READ_TRIES):
        try:
            got = await store.get(key)
            return got.data
        except Exception as exc:  # NATS reconnecting, or the object is gone
            log.warning("could not read %s (try %d): %s", key, attempt + 1, exc)
            await asyncio.sleep(RETRY_S * (attempt + 1))
    return None


async def fetch(store: ObjectStore, event: Event) -> GenerationResult | None:
    """The images of a succeeded event; None if one cannot be read (gone, or NATS away too long)."""
    images = []
    for info in event.images:
        png = await read(store, info.key)  # the key names the job: the log says whose it is
        if png is None:
            return None
        images.append(info.image(png))
    for info in event.images:  # read: the bucket's TTL need not keep them
        with contextlib.suppress(Exception):
            await store.delete(info.key)
    return GenerationResult(images=tuple(images), seconds=event.seconds)
