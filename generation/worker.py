"""The GPU worker: an asyncio task that runs queued jobs one at a time in a dedicated thread."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import torch

from core.errors import GenerationFailed, JobCancelled, JobRequeued, ModelLoadError, PromptError
from generation.loader import LoadedModel
from generation.runner import batch_key, run_batch, run_request
from generation.speedups import warm_up, warmup_requests, warmup_shapes
from jobs.model import ActiveJob, GenerationResult, Progress, StopReason
from jobs.scheduler import FairScheduler
from jobs.store import JobLedger
from moderation.classifier import OutputClassifier
from prompt.request import GenerationRequest

log = logging.getLogger(__name__)

ModelLoader = Callable[[], LoadedModel]
OUT_OF_MEMORY = (
    "The GPU ran out of memory for this image, even after a retry. Try a smaller size or try again "
    "when the bot is less busy."
)


class BatchRunner(Protocol):
    def __call__(
        self,
        model: LoadedModel,
        requests: Sequence[GenerationRequest],
        *,
        on_step: Callable[[int, int], None],
        is_cancelled: Callable[[], bool],
        classifier: OutputClassifier | None,
        want_preview: Callable[[], bool],
        on_preview: Callable[[bytes], None],
    ) -> list[GenerationResult]: ...


class Runner(Protocol):
    def __call__(
        self,
        model: LoadedModel,
        request: GenerationRequest,
        *,
        on_step: Callable[[int, int], None],
        is_cancelled: Callable[[], bool],
        classifier: OutputClassifier | None,
        want_preview: Callable[[], bool],
        on_preview: Callable[[bytes], None],
    ) -> GenerationResult: ...


def _ids(jobs: list[ActiveJob]) -> list[int]:
    return [job.id for job in jobs]


def _batch_note(jobs: list[ActiveJob]) -> str:
    return f" (batch of {len(jobs)})" if len(jobs) > 1 else ""


def free_accelerator_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class GenerationWorker:
    """Loads the model off the event loop, then drains the scheduler.

    One thread owns the pipeline: diffusers pipelines are not safe to call concurrently, and
    one image at a time already saturates a GPU at these sizes.
    """

    def __init__(
        self,
        load_model: ModelLoader,
        scheduler: FairScheduler,
        store: JobLedger,
        *,
        job_timeout_s: float,
        classifier: OutputClassifier | None = None,
        runner: Runner = run_request,
        batch_runner: BatchRunner = run_batch,
        max_batch: int = 1,
        shutdown_grace_s: float = 60.0,
    ) -> None:
        self._load_model = load_model
        self._classifier = classifier
        self._scheduler = scheduler
        self._store = store
        self._job_timeout_s = job_timeout_s
        self._runner = runner
        self._batch_runner = batch_runner
        self._max_batch = max_batch
        self._running: tuple[ActiveJob, ...] = ()
        self._shutdown_grace_s = shutdown_grace_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpu-worker")
        self._model: asyncio.Future[LoadedModel] | None = None
        self._task: asyncio.Task[None] | None = None
        self._current: ActiveJob | None = None
        self._closing = False

    @property
    def current(self) -> ActiveJob | None:
        return self._current

    @property
    def running(self) -> tuple[ActiveJob, ...]:
        """Every job in the pipeline call now running (several when batched)."""
        return self._running

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._model = asyncio.ensure_future(loop.run_in_executor(self._executor, self._load_and_log))
        self._task = asyncio.create_task(self._run(), name="generation-worker")

    def _load_and_log(self) -> LoadedModel:
        started = time.perf_counter()
        model = self._load_model()
        log.info(
            "model ready on %s (%s) in %.1f s; speed-ups: %s",
            model.device,
            model.dtype,
            time.perf_counter() - started,
            ", ".join(model.speedups) or "none",
        )
        if model.warmup:
            shapes = warmup_shapes(compiled="torch.compile" in model.speedups, max_batch=self._max_batch)
            log.info(
                "warming up %d shape(s)%s",
                len(shapes),
                " (compiling; cached for the next start)" if len(shapes) > 1 else "",
            )
            line = warm_up(lambda shape: run_batch(model, warmup_requests(shape)), shapes)
            log.info(line)
        return model

    async def wait_ready(self) -> LoadedModel:
        assert self._model is not None, "start() first"
        return await asyncio.shield(self._model)

    async def _run(self) -> None:
        assert self._model is not None
        try:
            model: LoadedModel | None = await asyncio.shield(self._model)
        except ModelLoadError as exc:  # a config or download problem: say it plainly
            log.error("%s; every job will be refused with that reason", exc)
            model = None
        except Exception:
            log.exception("the model failed to load; every job will be refused with that reason")
            model = None
        while True:
            job = await self._scheduler.get()
            if self._closing:  # taken just as the bot stops: it stays queued in the database
                job.result.set_exception(JobRequeued())
                return
            batch = [job, *self._followers(model, job)]
            self._current, self._running = job, tuple(batch)
            try:
                await self._process(model, batch)
            except Exception:  # the worker must outlive any one job (and its bookkeeping)
                log.exception("job(s) %s: unexpected error", [j.id for j in batch])
                for one in batch:
                    if one.result.done():
                        continue
                    one.result.set_exception(GenerationFailed("Something went wrong while generating."))
                    try:
                        await self._store.mark_failed(one.id, "unexpected error (logged)")
                    except Exception:  # e.g. the database is down: the job is re-run at the next start
                        log.exception("job %s: could not record the failure", one.id)
            finally:
                self._current, self._running = None, ()

    def _followers(self, model: LoadedModel | None, lead: ActiveJob) -> list[ActiveJob]:
        """The next jobs in line that can share the lead's pipeline call."""
        if self._max_batch <= 1 or model is None or self._closing:
            return []
        key = batch_key(model, lead.request)
        if key is None:
            return []
        room = self._max_batch - lead.request.count
        return self._scheduler.take_following(lambda job: batch_key(model, job.request) == key, room)

    def _attempt(
        self,
        model: LoadedModel,
        jobs: list[ActiveJob],
        on_step: Callable[[int, int], None],
        on_preview: Callable[[bytes], None],
    ) -> list[GenerationResult]:
        """Run in the worker thread: one job, or a batch that stops only when every job in it
        was asked to stop. An out-of-memory error is retried once with the cache freed."""

        def want_preview() -> bool:
            wanted = any(job.preview_wanted.is_set() for job in jobs)
            for job in jobs:
                job.preview_wanted.clear()
            return wanted

        def is_cancelled() -> bool:
            return all(job.cancel_flag.is_set() for job in jobs)

        def once() -> list[GenerationResult]:
            if len(jobs) == 1:
                return [
                    self._runner(
                        model,
                        jobs[0].request,
                        on_step=on_step,
                        is_cancelled=is_cancelled,
                        classifier=self._classifier,
                        want_preview=want_preview,
                        on_preview=on_preview,
                    )
                ]
            return self._batch_runner(
                model,
                [job.request for job in jobs],
                on_step=on_step,
                is_cancelled=is_cancelled,
                classifier=self._classifier,
                want_preview=want_preview,
                on_preview=on_preview,
            )

        try:
            return once()
        except torch.OutOfMemoryError:
            log.warning("job(s) %s ran out of GPU memory; freeing the cache and retrying once", _ids(jobs))
        free_accelerator_memory()
        return once()

    async def _process(self, model: LoadedModel | None, batch: list[ActiveJob]) -> None:
        jobs = [job for job in batch if not job.result.done()]  # not cancelled while it waited
        if not jobs:
            return
        if model is None:  # followers are only taken once the model is loaded: this is one job
            await self._refuse_unloaded(jobs)
            return
        await self._mark_running(jobs)
        running = self._launch(model, jobs)
        try:
            results = await asyncio.wait_for(asyncio.shield(running), self._job_timeout_s)
        except TimeoutError:
            await self._timed_out(jobs, running)
        except PromptError as exc:  # e.g. too many tokens: the member can fix this
            await self._fail_all(jobs, str(exc), str(exc))
        except JobCancelled:
            for job in jobs:
                await self._stopped(job)
        except torch.OutOfMemoryError as exc:
            log.error("job(s) %s ran out of GPU memory twice: %s", _ids(jobs), exc)
            free_accelerator_memory()
            await self._fail_all(jobs, f"out of memory: {exc}", OUT_OF_MEMORY)
        except Exception as exc:
            log.exception("job(s) %s failed", _ids(jobs))
            told = "The image could not be generated (the error was logged)."
            await self._fail_all(jobs, f"{type(exc).__name__}: {exc}", told)
        else:
            await self._deliver(jobs, results)

    async def _refuse_unloaded(self, jobs: list[ActiveJob]) -> None:
        """Fail the jobs with the reason the model did not load."""
        error = self._model.exception() if self._model is not None and self._model.done() else None
        detail = str(error) if isinstance(error, ModelLoadError) else "the model failed to load"
        for job in jobs:
            await self._store.mark_failed(job.id, detail)
            job.result.set_exception(GenerationFailed(f"The image model is not available: {detail}."))

    async def _mark_running(self, jobs: list[ActiveJob]) -> None:
        for job in jobs:
            await self._store.mark_running(job.id)
            job.mark_started()
        if len(jobs) > 1:
            log.info("batch of %d jobs: %s", len(jobs), _ids(jobs))

    def _launch(self, model: LoadedModel, jobs: list[ActiveJob]) -> asyncio.Future[list[GenerationResult]]:
        """Start the pipeline call in the worker thread; its callbacks hop back to the event loop."""
        loop = asyncio.get_running_loop()

        def on_step(step: int, total: int) -> None:
            for job in jobs:
                loop.call_soon_threadsafe(job.report, Progress(step, total))

        def on_preview(jpeg: bytes) -> None:
            for job in jobs:
                loop.call_soon_threadsafe(job.show_preview, jpeg)

        return loop.run_in_executor(self._executor, self._attempt, model, jobs, on_step, on_preview)

    async def _timed_out(self, jobs: list[ActiveJob], running: asyncio.Future[list[GenerationResult]]) -> None:
        # A thread cannot be killed: ask the pipeline to stop at its next step and wait.
        for job in jobs:
            job.cancel_flag.set()
        await asyncio.gather(running, return_exceptions=True)
        message = f"The job took longer than {self._job_timeout_s:g} s and was stopped."
        await self._fail_all(jobs, message, message)

    async def _deliver(self, jobs: list[ActiveJob], results: list[GenerationResult]) -> None:
        for job, result in zip(jobs, results, strict=True):
            if len(jobs) > 1 and job.cancel_flag.is_set():  # cancelled alone while its batch went on
                await self._stopped(job)
                continue
            log.info("job %s made its image in %.2f s%s", job.id, result.seconds, _batch_note(jobs))
            # Marked done once delivered (GenerationService.complete), so a crash in between re-runs it.
            job.result.set_result(result)

    async def _fail_all(self, jobs: list[ActiveJob], recorded: str, told: str) -> None:
        for job in jobs:
            await self._fail(job, recorded, told)

    async def _fail(self, job: ActiveJob, recorded: str, told: str) -> None:
        await self._store.mark_failed(job.id, recorded)
        if not job.result.done():
            job.result.set_exception(GenerationFailed(told))

    async def _stopped(self, job: ActiveJob) -> None:
        if job.stop_reason is StopReason.SHUTDOWN:
            await self._store.requeue(job.id)
            if not job.result.done():
                job.result.set_exception(JobRequeued())
            return
        await self._store.mark_cancelled(job.id)
        if not job.result.done():
            job.result.set_exception(JobCancelled())

    async def close(self) -> None:
        """Stop taking jobs; the running one stops at its next step and goes back to the queue
        (as do the waiting ones, which the database already holds as queued)."""
        self._scheduler.close()
        self._closing = True
        model_ready = self._model is not None and self._model.done()
        if self._model is not None and model_ready and not self._model.cancelled():
            self._model.exception()  # retrieved: a failed load was already reported by _run
        current = self._current
        running = self._running
        for job in running:
            job.stop(StopReason.SHUTDOWN)
        if running:
            # Let the pipeline reach its next step and the worker record the jobs as queued.
            await asyncio.wait({job.result for job in running}, timeout=self._shutdown_grace_s)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        last = [job for job in {current, self._current, *running, *self._running} if job is not None]
        for job in [*last, *self._scheduler.drain()]:
            job.cancel_flag.set()
            if not job.result.done():
                await self._store.requeue(job.id)
                job.result.set_exception(JobRequeued())
        # Let a running pipeline call reach its next step and return before the process exits;
        # a model still loading (a long download) is not waited for.
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self._executor.shutdown, wait=model_ready, cancel_futures=True)
        )
