"""A GPU worker process: ``python bot.py worker --config worker.toml``.

It connects outward to NATS (so a GPU behind NAT works), says hello every second with what it
can run, pulls one batch at a time from its own durable consumer, runs it with the same
in-process engine the one-GPU bot uses (``generation.worker.GenerationWorker``), and publishes
what happens: events on the events stream, PNGs in the object store, steps and previews as
plain messages. Its heartbeat to JetStream (``in_progress``) is sent from the denoising step
callback, so a GPU that hangs stops it and JetStream hands the batch out again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Coroutine, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from cluster import connection, results
from cluster.wire import Control, Event, EventKind, Hello, ImageInfo, Names, StepReport, WorkerState, WorkOrder
from core.config import Config
from core.errors import ConfigError
from core.text import Message
from generation.worker import GenerationWorker
from jobs.model import ActiveJob, GenerationResult, Progress, StopReason

log = logging.getLogger(__name__)

HELLO_EVERY_S = 1.0
HEARTBEAT_EVERY_S = 1.0
RETRY_S = 0.5
REMEMBERED = 256
UPLOAD_TRIES = 10  # finished assignments, to acknowledge a redelivered one without running it again


@dataclass
class _Current:
    order: WorkOrder
    message: Msg
    jobs: dict[int, ActiveJob]
    heartbeat_at: float = 0.0


class WorkerProcess:
    """Implements ``jobs.backend.BackendEvents`` for its engine, and publishes what it reports."""

    def __init__(self, config: Config, engine: GenerationWorker, *, gpu: str, memory_gb: float) -> None:
        self._config = config
        self._names = Names(config.workers.namespace)
        self._name = config.worker.name
        self._engine = engine
        self._gpu, self._memory_gb = gpu, memory_gb
        self._boot = uuid.uuid4().hex
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._results: ObjectStore | None = None
        self._sources: ObjectStore | None = None
        self._current: _Current | None = None
        self._cancelled: set[int] = set()  # cancel asks for jobs not (yet) running here
        self._finished: list[str] = []
        self._sending: set[asyncio.Future[None]] = set()

    async def connection_check(self) -> str | None:
        """For /readyz: None while connected to NATS, else what is wrong."""
        if self._nc is None or not self._nc.is_connected:
            return f"not connected to NATS at {self._config.workers.nats_url}"
        return None

    # --- the loop -----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._nc = await connection.connect(self._config.workers, f"animagine-worker-{self._name}")
        self._js = self._nc.jetstream()
        self._results = await connection.results_bucket(self._js, self._names)
        subscription = await self._subscribe()
        await self._nc.subscribe(self._names.control(self._name), cb=self._on_control)
        self._engine.start(self)
        hello = asyncio.create_task(self._say_hello(stop), name="hello")
        try:
            await self._engine.ready()
            log.info("worker %s ready; taking jobs", self._name)
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(batch=1, timeout=1.0)
                except TimeoutError:
                    continue
                except Exception as exc:  # reconnecting: ask again
                    log.debug("fetch: %s", exc)
                    await asyncio.sleep(RETRY_S)
                    continue
                for message in messages:
                    try:
                        await self._take(message, stop)
                    except Exception:  # e.g. NATS away while the results were uploaded
                        log.exception("could not finish the batch; it will be delivered again")
                        with contextlib.suppress(Exception):
                            await message.nak()
        finally:
            hello.cancel()
            await asyncio.gather(hello, return_exceptions=True)
            await self._engine.close()
            with contextlib.suppress(Exception):
                await self._nc.close()

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        """This worker's durable consumer (created here, so only the worker's name is needed);
        waits for the bot to have created the stream."""
        assert self._js is not None
        consumer = connection.work_consumer(self._names, self._name, self._config.workers)
        while True:
            try:
                return await connection.bind(self._js, self._names.work_stream, consumer)
            except NotFoundError:
                log.info("waiting for the bot to create the %s stream", self._names.work_stream)
                await asyncio.sleep(2.0)

    async def _take(self, message: Msg, stop: asyncio.Event) -> None:
        order = WorkOrder.decode(message.data)
        if order.assignment in self._finished:  # its results are out; the ack was lost
            await message.ack()
            return
        loop = asyncio.get_running_loop()
        sources = await self._sources_of(order)
        jobs = {
            job_id: ActiveJob(job_id, request, loop.create_future(), source_png=sources.get(request.source or ""))
            for job_id, request in order.jobs
        }
        self._current = current = _Current(order, message, jobs)
        log.info("job(s) %s from the bot (try %d)", list(jobs), message.metadata.num_delivered)
        try:
            for job_id in self._cancelled & set(jobs):
                jobs[job_id].stop(StopReason.CANCELLED)
                await self._publish(job_id, Event("stopped", order.assignment, job_id))
            for group in self._groups([job for job in jobs.values() if not job.cancel_flag.is_set()]):
                if stop.is_set():
                    break
                await self._engine.run(group)
            if stop.is_set() and any(
                not job.result.done() or job.stop_reason is StopReason.SHUTDOWN for job in jobs.values()
            ):
                await message.nak()  # not finished: delivered again (or taken back by the bot)
                return
            await message.ack()
            self._finished = [*self._finished[-REMEMBERED:], order.assignment]
        finally:
            self._current = None
            self._cancelled -= set(current.jobs)

    async def _sources_of(self, order: WorkOrder) -> dict[str, bytes]:
        """The order's remix sources from the bot's bucket (opened at the first remix). One that
        cannot be read makes its job fail in the runner, with the error reported as usual."""
        wanted = {request.source for _, request in order.jobs if request.source is not None}
        if not wanted:
            return {}
        assert self._js is not None
        if self._sources is None:
            try:
                self._sources = await connection.sources_bucket(self._js, self._names, wait_s=5.0)
            except ConfigError as exc:  # a bot too old to make the bucket: these jobs fail, the worker stays
                log.error("cannot read remix sources: %s", exc)
                return {}
        found = {digest: await results.read(self._sources, digest) for digest in wanted}
        return {digest: png for digest, png in found.items() if png is not None}

    def _groups(self, jobs: Sequence[ActiveJob]) -> list[list[ActiveJob]]:
        """The bot batches by size and steps; prompts needing different chunk counts run in
        separate pipeline calls, in order."""
        groups: dict[Hashable, list[ActiveJob]] = {}
        alone: list[list[ActiveJob]] = []
        for job in jobs:
            key = self._engine.batch_key(job.request)
            if key is None:
                alone.append([job])
            else:
                groups.setdefault(key, []).append(job)
        return [*groups.values(), *alone]

    def stop_running(self) -> None:
        """SIGTERM: the running batch stops at its next step and goes back (not reported)."""
        if self._current is not None:
            for job in self._current.jobs.values():
                self._engine.cancel(job, StopReason.SHUTDOWN)

    # --- presence and control -------------------------------------------------------------

    def _state(self) -> WorkerState:
        if self._engine.model_error() is not None:
            return "failed"
        if self._current is not None:
            return "busy"
        return "ready" if self._engine.batch_key_ready() else "loading"

    def hello(self) -> Hello:
        (engine,) = self._engine.workers()  # its counts: images done, speed after warm-up
        return Hello(
            name=self._name,
            boot=self._boot,
            state=self._state(),
            model=self._config.model.name,
            gpu=self._gpu,
            memory_gb=self._memory_gb,
            max_batch=self._config.generation.max_batch,
            max_pixels=self._config.worker.max_pixels,
            jobs=tuple(self._current.jobs) if self._current is not None else (),
            images_done=engine.images_done,
            seconds_per_image=engine.seconds_per_image,
            error=self._engine.model_error() or "",
        )

    async def _say_hello(self, stop: asyncio.Event) -> None:
        assert self._nc is not None
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await self._nc.publish(self._names.hello(self._name), self.hello().encode())
            await asyncio.sleep(HELLO_EVERY_S)

    async def _on_control(self, message: Msg) -> None:
        try:
            control = Control.decode(message.data)
        except (ValueError, TypeError, KeyError):
            return
        current = self._current
        for job_id in control.cancel:
            job = current.jobs.get(job_id) if current is not None else None
            if job is None:
                self._cancelled.add(job_id)  # sent to us but not taken yet
            else:
                self._engine.cancel(job, StopReason.CANCELLED)
        for job_id in control.preview:
            job = current.jobs.get(job_id) if current is not None else None
            if job is not None:
                job.preview_wanted.set()

    # --- what the engine reports (BackendEvents) ----------------------------------------------

    async def _publish(self, job_id: int, event: Event) -> None:
        """Until JetStream has it (NATS may be restarting); the message id stores it once."""
        assert self._js is not None
        subject = self._names.events(self._name, job_id)
        headers = {"Nats-Msg-Id": f"{event.assignment}:{job_id}:{event.kind}"}
        while True:
            try:
                await self._js.publish(subject, event.encode(), headers=headers)
                return
            except Exception as exc:
                log.warning("could not report job %s %s (%s); retrying", job_id, event.kind, exc)
                await asyncio.sleep(RETRY_S)

    def _assignment(self) -> str:
        assert self._current is not None
        return self._current.order.assignment

    async def _report(self, job: ActiveJob, kind: EventKind, **fields: object) -> None:
        await self._publish(job.id, Event(kind, self._assignment(), job.id, **fields))  # type: ignore[arg-type]

    async def started(self, jobs: Sequence[ActiveJob]) -> None:
        for job in jobs:
            job.mark_started()
            await self._report(job, "started")

    def _step(self, job: ActiveJob, progress: Progress, preview: bytes | None) -> None:
        current = self._current
        if current is None or self._nc is None:
            return
        running = [j for j in current.jobs.values() if j.started and not j.result.done()]
        if not running or job is not running[0]:  # one report per step for the whole batch
            return
        report = StepReport(
            current.order.assignment, tuple(j.id for j in running), progress.step, progress.total, preview
        )
        self._background(self._nc.publish(self._names.progress(self._name), report.encode()))
        now = time.monotonic()
        if now - current.heartbeat_at >= HEARTBEAT_EVERY_S:  # a step happened: the GPU is alive
            current.heartbeat_at = now
            self._background(current.message.in_progress())

    def _background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    def progress(self, job: ActiveJob, progress: Progress) -> None:
        job.report(progress)
        self._step(job, progress, None)

    def preview(self, job: ActiveJob, jpeg: bytes) -> None:
        if job.progress is not None:
            self._step(job, job.progress, jpeg)

    async def succeeded(self, job: ActiveJob, result: GenerationResult) -> None:
        assert self._results is not None
        images = []
        for n, image in enumerate(result.images):
            key = f"{self._assignment()}/{job.id}/{n}.png"
            await results.upload(self._results, key, image.png)
            images.append(ImageInfo.of(key, image))
        await self._report(job, "succeeded", seconds=result.seconds, images=tuple(images))
        if not job.result.done():
            job.result.set_result(result)

    async def failed(self, job: ActiveJob, recorded: str, told: Message) -> None:
        await self._publish(job.id, Event.failure(self._assignment(), job.id, recorded, told))
        if not job.result.done():
            job.result.set_exception(RuntimeError(recorded))

    async def stopped(self, job: ActiveJob) -> None:
        if job.stop_reason is not StopReason.SHUTDOWN:  # a shutdown's job goes back instead
            await self._report(job, "stopped")
        if not job.result.done():
            job.result.cancel()

    async def returned(self, jobs: Sequence[ActiveJob]) -> None:
        return None

    def lanes_changed(self) -> None:
        return None
