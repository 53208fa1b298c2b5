"""deploy/nats/nats-server.conf, the example the README points at: nats-server accepts it, and
its permissions let a worker do its job (as nats-py does it) and nothing of another worker's.

Skipped where nats-server is not on PATH (it is not a Python package)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nats" / "nats-server.conf"
NATS_SERVER = shutil.which("nats-server") or next(
    (p for p in ("/usr/sbin/nats-server", "/usr/local/bin/nats-server") if Path(p).exists()), None
)

pytestmark = pytest.mark.skipif(NATS_SERVER is None, reason="nats-server is not installed")

# The example's names: namespace "imagine", worker "gpu-1" (and "gpu-2", who has no user there).
WORK, EVENTS, BUCKET, SOURCES = "imagine-work", "imagine-events", "imagine-results", "imagine-sources"
BOT = {"user": "bot", "password": "change-me-bot"}
GPU1 = {"user": "gpu-1", "password": "change-me-gpu-1"}


def test_the_example_config_is_valid() -> None:
    assert NATS_SERVER is not None
    result = subprocess.run([NATS_SERVER, "-t", "-c", str(CONF)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def example_server(tmp_path: Path) -> Iterator[str]:
    """The example config, as is, on free ports with a temporary store."""
    assert NATS_SERVER is not None
    port = _free_port()
    args = [NATS_SERVER, "-c", str(CONF), "-a", "127.0.0.1", "-p", str(port), "-m", str(_free_port())]
    server = subprocess.Popen(
        [*args, "-sd", str(tmp_path / "js")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            if server.poll() is not None:
                pytest.fail("nats-server did not start with the example config")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.asynccontextmanager
async def _client(url: str, credentials: dict[str, str], errors: list[str]) -> AsyncIterator[Any]:
    nats = pytest.importorskip("nats")

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(url, **credentials, error_cb=on_error, allow_reconnect=False)
    try:
        yield nc
    finally:
        await nc.close()


async def test_a_worker_can_do_its_job_and_nothing_of_another_workers(example_server: str) -> None:
    api = pytest.importorskip("nats.js.api")
    js_errors = pytest.importorskip("nats.js.errors")
    nats_errors = pytest.importorskip("nats.errors")
    bot_errors: list[str] = []
    worker_errors: list[str] = []
    async with _client(example_server, BOT, bot_errors) as bot, _client(example_server, GPU1, worker_errors) as worker:
        # The bot sets up the layout and sends one batch to each worker.
        bjs = bot.jetstream()
        await bjs.add_stream(
            name=WORK, subjects=["imagine.work.>"], retention=api.RetentionPolicy.WORK_QUEUE, duplicate_window=120
        )
        await bjs.add_stream(name=EVENTS, subjects=["imagine.events.>"])
        await bjs.create_object_store(BUCKET)
        await (await bjs.create_object_store(SOURCES)).put("d" * 64, b"\x89PNG a remix's source")
        for name in ("gpu-1", "gpu-2"):
            await bjs.publish(f"imagine.work.{name}.a1", b"batch", headers={"Nats-Msg-Id": f"{name}-a1"})
        await bjs.add_consumer(
            WORK, durable_name="work-gpu-2", filter_subject="imagine.work.gpu-2.>", ack_policy="explicit"
        )
        await bot.subscribe(f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{WORK}.*")
        hellos = await bot.subscribe("imagine.hello.*")
        progress = await bot.subscribe("imagine.progress.*")
        events = await bjs.pull_subscribe("imagine.events.>", durable="bot", stream=EVENTS)

        # The worker: control, presence, progress.
        control = await worker.subscribe("imagine.control.gpu-1")
        await worker.flush()  # the subscriptions are in place on the server
        await bot.flush()
        await worker.publish("imagine.hello.gpu-1", b"{}")
        await worker.publish("imagine.progress.gpu-1", b"{}")
        await bot.publish("imagine.control.gpu-1", b"cancel")
        assert (await control.next_msg(timeout=2)).data == b"cancel"
        assert (await hellos.next_msg(timeout=2)).subject == "imagine.hello.gpu-1"
        assert (await progress.next_msg(timeout=2)).subject == "imagine.progress.gpu-1"

        # Its own durable consumer (created by the worker here), pulled, heartbeats, acked.
        wjs = worker.jetstream()
        await wjs.account_info()
        work = await wjs.pull_subscribe(
            "imagine.work.gpu-1.>",
            durable="work-gpu-1",
            config=api.ConsumerConfig(ack_policy=api.AckPolicy.EXPLICIT, max_ack_pending=1, ack_wait=60),
        )
        (msg,) = await work.fetch(1, timeout=5)
        assert msg.data == b"batch"
        await msg.in_progress()
        # A remix: its source image, read from the sources bucket.
        source = await (await wjs.object_store(SOURCES)).get("d" * 64)
        assert source.data == b"\x89PNG a remix's source"
        # The result: the PNG into the object store, then the event into the events stream.
        store = await wjs.object_store(BUCKET)
        await store.put("a1/7/0.png", b"\x89PNG fake")
        await wjs.publish("imagine.events.gpu-1.7", b"succeeded")
        await msg.ack()
        await worker.flush()

        # The bot reads both.
        (event,) = await events.fetch(1, timeout=5)
        assert event.subject == "imagine.events.gpu-1.7"
        await event.ack()
        result = await (await bjs.object_store(BUCKET)).get("a1/7/0.png")
        assert result.data == b"\x89PNG fake"
        assert worker_errors == [] and bot_errors == []

        # Nothing of gpu-2's: not its presence, events, control, consumer or batch.
        await worker.publish("imagine.hello.gpu-2", b"{}")
        await worker.publish("imagine.events.gpu-2.8", b"succeeded")
        await worker.subscribe("imagine.control.gpu-2")
        await worker.subscribe("imagine.work.>")
        with pytest.raises((js_errors.Error, nats_errors.Error, TimeoutError)):
            await wjs.consumer_info(WORK, "work-gpu-2", timeout=1)
        stolen = await wjs.pull_subscribe_bind("work-gpu-2", stream=WORK)
        with pytest.raises((js_errors.Error, nats_errors.Error, TimeoutError)):
            await stolen.fetch(1, timeout=1)
        await asyncio.sleep(0.2)
        denied = " ".join(worker_errors).lower()  # nats-py lowercases the server's -ERR text
        for subject in (
            "imagine.hello.gpu-2",
            "imagine.events.gpu-2.8",
            "imagine.control.gpu-2",
            "imagine.work.>",
            "$JS.API.CONSUMER.INFO.imagine-work.work-gpu-2",
            "$JS.API.CONSUMER.MSG.NEXT.imagine-work.work-gpu-2",
        ):
            assert f'"{subject.lower()}"' in denied, (subject, worker_errors)
        # gpu-2's batch is still there for gpu-2.
        assert (await bjs.consumer_info(WORK, "work-gpu-2")).num_pending == 1
