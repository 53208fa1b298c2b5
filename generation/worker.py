"""The in-process GPU backend: runs the batches the service hands it in one dedicated thread.

It implements ``jobs.backend.Backend``: it records nothing itself, but reports each job's
outcome (started, progress, preview, result, failed, stopped) to the service's events.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import torch

from core.errors import JobCancelled, ModelLoadError, PromptError
from core.text import Message, t
from generation.loader import LoadedModel
from generation.runner import RunControl, batch_key, run
from generation.speedups import warm_up, warmup_requests, warmup_shapes
from jobs.backend import BackendEvents, Lane, Recovery, WorkerStatus
from jobs.context import tag_jobs
from jobs.model import ActiveJob, GenerationResult, Progress, StopReason
from moderation.classifier import OutputClassifier
from prompt.request import GenerationRequest

log = logging.getLogger(__name__)

ModelLoader = Callable[[], LoadedModel]
OUT_OF_MEMORY = t(
    "The GPU ran out of memory for this image, even after a retry. Try a smaller size or try again "
    "when the bot is less busy."
)
FITTING_REMEMBERED = 4096
UNEXPECTED = t("The image could not be generated (the error was logged).")


class Runner(Protocol):
    """``generation.runner.run``'s signature (tests pass a scripted one)."""

    def __call__(
        self,
        model: LoadedModel,
        requests: Sequence[GenerationRequest],
        control: RunControl,
        *,
        classifier: OutputClassifier | None,
        sources: Mapping[str, bytes] | None = None,
    ) -> list[GenerationResult]: ...


def _ids(jobs: Sequence[ActiveJob]) -> list[int]:
    return [job.id for job in jobs]


def job_sources(jobs: Sequence[ActiveJob]) -> dict[str, bytes]:
    """The remixes' source images, by digest, as ``run`` takes them."""
    return {job.request.source: job.source_png for job in jobs if job.request.source and job.source_png}


def _batch_note(jobs: Sequence[ActiveJob]) -> str:
    return f" (batch of {len(jobs)})" if len(jobs) > 1 else ""


def free_accelerator_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class GenerationWorker:
    """Loads the model off the event loop, then runs one batch at a time: the backend and its
    one lane.

    One thread owns the pipeline: diffusers pipelines are not safe to call concurrently, and
    one batch at a time already saturates a GPU at these sizes.
    """

    def __init__(
        self,
        load_model: ModelLoader,
        *,
        job_timeout_s: float,
        classifier: OutputClassifier | None = None,
        runner: Runner = run,
        max_batch: int = 1,
    ) -> None:
        self._load_model = load_model
        self._classifier = classifier
        self._job_timeout_s = job_timeout_s
        self._runner = runner
        self._max_batch = max_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpu-worker")
        self._model: asyncio.Future[LoadedModel] | None = None
        self._events: BackendEvents | None = None
        self._fitting: OrderedDict[tuple[str, str], None] = OrderedDict()  # prompts known to fit
        self._running: tuple[int, ...] = ()
        self._images_done = 0
        self._seconds_per_image: float | None = None
        # Written once by the loading thread, read by the metrics: None until known.
        self._load_seconds: float | None = None
        self._warmup_seconds: float | None = None

    @property
    def max_batch(self) -> int:
        return self._max_batch

    @property
    def load_seconds(self) -> float | None:
        return self._load_seconds

    @property
    def warmup_seconds(self) -> float | None:
        return self._warmup_seconds

    def start(self, events: BackendEvents) -> None:
        self._events = events
        loop = asyncio.get_running_loop()
        self._model = asyncio.ensure_future(loop.run_in_executor(self._executor, self._load_and_log))
        self._model.add_done_callback(self._report_load_failure)

    def _load_and_log(self) -> LoadedModel:
        started = time.perf_counter()
        model = self._load_model()
        self._load_seconds = time.perf_counter() - started
        log.info(
            "model ready on %s (%s) in %.1f s; speed-ups: %s",
            model.device,
            model.dtype,
            self._load_seconds,
            ", ".join(model.speedups) or "none",
        )
        if model.warmup:
            shapes = warmup_shapes(compiled="torch.compile" in model.speedups, max_batch=self._max_batch)
            log.info(
                "warming up %d shape(s)%s",
                len(shapes),
                " (compiling; cached for the next start)" if len(shapes) > 1 else "",
            )
            warming = time.perf_counter()
            line = warm_up(lambda shape: run(model, warmup_requests(shape)), shapes)
            self._warmup_seconds = time.perf_counter() - warming
            log.info(line)
        return model

    @staticmethod
    def _report_load_failure(future: asyncio.Future[LoadedModel]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if isinstance(error, ModelLoadError):  # a config or download problem: say it plainly
            log.error("%s; every job will be refused with that reason", error)
        elif error is not None:
            log.error("the model failed to load; every job will be refused with that reason", exc_info=error)

    async def _loaded(self) -> LoadedModel | None:
        assert self._model is not None, "start() first"
        try:
            return await asyncio.shield(self._model)
        except Exception:  # reported once by _report_load_failure; each job is refused with it
            return None

    async def ready(self) -> None:
        await self._loaded()

    def _ready_model(self) -> LoadedModel | None:
        model = self._model
        if model is None or not model.done() or model.cancelled() or model.exception() is not None:
            return None
        return model.result()

    def model_error(self) -> str | None:
        """Why the model is not there: None while it loads or once it is loaded."""
        model = self._model
        if model is None or not model.done() or model.cancelled() or model.exception() is None:
            return None
        error = model.exception()
        return str(error) if isinstance(error, ModelLoadError) else "the model failed to load (see the log)"

    def batch_key_ready(self) -> bool:
        """The model is loaded (batch keys and token counts are exact)."""
        return self._ready_model() is not None

    def workers(self) -> list[WorkerStatus]:
        """``jobs.backend.Fleet``: this process's own GPU, as /workers shows it."""
        model = self._ready_model()
        error = self.model_error()
        state = "failed" if error else "loading" if model is None else "busy" if self._running else "ready"
        gpu = f"{model.device} ({model.dtype})" if model is not None else "this process"
        return [
            WorkerStatus(
                name="local",
                gpu=gpu,
                state=state,
                jobs=self._running,
                images_done=self._images_done,
                seconds_per_image=self._seconds_per_image,
                last_seen_s=0.0,
                error=error or "",
            )
        ]

    def lanes(self) -> Sequence[Lane]:
        return (self,)

    def fits(self, request: GenerationRequest) -> bool:
        return True  # the bot's own limits are this GPU's

    async def recover(self, jobs: Sequence[ActiveJob]) -> Recovery:
        return Recovery()  # nothing outlives this process: every unfinished job runs again

    def check_tokens(self, prompt: str, negative: str) -> None:
        """``prompt.request.TokenBudget``: raise PromptTooLong for a prompt the loaded model's
        encoder would refuse, tokenising only, so the gate refuses it before anything is charged.

        While the model is loading (or if it failed to load) there is no tokenizer to ask, and
        waiting for one would stall the command: nothing is checked, and the job is checked when
        it runs, as before (a load failure refuses every job with its reason).
        """
        model = self._ready_model()
        if model is None or (prompt, negative) in self._fitting:
            return
        model.encoder.check_tokens(prompt, negative)
        # Tokenising costs about a millisecond on the event loop: a burst of Re-rolls of one
        # result asks for the same prompt hundreds of times.
        self._fitting[(prompt, negative)] = None
        if len(self._fitting) > FITTING_REMEMBERED:
            self._fitting.popitem(last=False)

    def batch_key(self, request: GenerationRequest) -> Hashable | None:
        model = self._ready_model()
        return batch_key(model, request) if model is not None else None

    def cancel(self, job: ActiveJob, reason: StopReason) -> None:
        job.stop(reason)  # the pipeline's thread reads the flag at its next step

    @property
    def _reported(self) -> BackendEvents:
        assert self._events is not None, "start() first"
        return self._events

    async def run(self, batch: Sequence[ActiveJob]) -> None:
        jobs = [job for job in batch if not job.result.done()]  # not cancelled while it waited
        if not jobs:
            return
        tag_jobs(jobs)  # also in a GPU worker process, which has no GenerationService
        model = await self._loaded()
        if model is None:
            await self._refuse_unloaded(jobs)
            return
        events = self._reported
        await events.started(jobs)
        self._running = tuple(_ids(jobs))
        try:
            await self._run_started(model, jobs)
        finally:
            self._running = ()

    async def _run_started(self, model: LoadedModel, jobs: Sequence[ActiveJob]) -> None:
        events = self._reported
        if len(jobs) > 1:
            log.info("batch of %d jobs: %s", len(jobs), _ids(jobs))
        running = self._launch(model, jobs)
        try:
            results = await asyncio.wait_for(asyncio.shield(running), self._job_timeout_s)
        except TimeoutError:
            await self._timed_out(jobs, running)
        except PromptError as exc:  # e.g. too many tokens: the member can fix this
            await self._fail_all(jobs, str(exc), exc.text)
        except JobCancelled:
            for job in jobs:
                await events.stopped(job)
        except torch.OutOfMemoryError as exc:
            log.error("job(s) %s ran out of GPU memory twice: %s", _ids(jobs), exc)
            free_accelerator_memory()
            await self._fail_all(jobs, f"out of memory: {exc}", OUT_OF_MEMORY)
        except Exception as exc:
            log.exception("job(s) %s failed", _ids(jobs))
            await self._fail_all(jobs, f"{type(exc).__name__}: {exc}", UNEXPECTED)
        else:
            await self._deliver(jobs, results)

    async def _refuse_unloaded(self, jobs: Sequence[ActiveJob]) -> None:
        """Fail the jobs with the reason the model did not load."""
        error = self._model.exception() if self._model is not None and self._model.done() else None
        detail = str(error) if isinstance(error, ModelLoadError) else "the model failed to load"
        await self._fail_all(jobs, detail, t("The image model is not available: {detail}.", detail=detail))

    def _control(self, jobs: Sequence[ActiveJob]) -> RunControl:
        """The run's control, read from the pipeline's thread; reports hop back to the event loop.
        A batch stops only when every job in it was asked to stop."""
        loop = asyncio.get_running_loop()
        events = self._reported

        def on_step(step: int, total: int) -> None:
            for job in jobs:
                loop.call_soon_threadsafe(events.progress, job, Progress(step, total))

        def on_preview(jpeg: bytes) -> None:
            for job in jobs:
                loop.call_soon_threadsafe(events.preview, job, jpeg)

        def want_preview() -> bool:
            wanted = any(job.preview_wanted.is_set() for job in jobs)
            for job in jobs:
                job.preview_wanted.clear()
            return wanted

        def is_cancelled() -> bool:
            return all(job.cancel_flag.is_set() for job in jobs)

        return RunControl(on_step=on_step, is_cancelled=is_cancelled, want_preview=want_preview, on_preview=on_preview)

    def _launch(self, model: LoadedModel, jobs: Sequence[ActiveJob]) -> asyncio.Future[list[GenerationResult]]:
        """Start the pipeline call in the worker thread."""
        control = self._control(jobs)
        # run_in_executor does not carry the task's context (the job tag of its log lines) over.
        attempt = functools.partial(contextvars.copy_context().run, self._attempt, model, jobs, control)
        return asyncio.get_running_loop().run_in_executor(self._executor, attempt)

    def _attempt(self, model: LoadedModel, jobs: Sequence[ActiveJob], control: RunControl) -> list[GenerationResult]:
        """In the worker thread; an out-of-memory error is retried once with the cache freed."""
        requests = [job.request for job in jobs]
        sources = job_sources(jobs)
        try:
            return self._runner(model, requests, control, classifier=self._classifier, sources=sources)
        except torch.OutOfMemoryError:
            log.warning("job(s) %s ran out of GPU memory; freeing the cache and retrying once", _ids(jobs))
        free_accelerator_memory()
        return self._runner(model, requests, control, classifier=self._classifier, sources=sources)

    async def _timed_out(self, jobs: Sequence[ActiveJob], running: asyncio.Future[list[GenerationResult]]) -> None:
        # A thread cannot be killed: ask the pipeline to stop at its next step and wait.
        for job in jobs:
            job.cancel_flag.set()
        await asyncio.gather(running, return_exceptions=True)
        told = t("The job took longer than {seconds} s and was stopped.", seconds=f"{self._job_timeout_s:g}")
        await self._fail_all(jobs, str(told), told)

    async def _deliver(self, jobs: Sequence[ActiveJob], results: list[GenerationResult]) -> None:
        events = self._reported
        for job, result in zip(jobs, results, strict=True):
            if len(jobs) > 1 and job.cancel_flag.is_set():  # cancelled alone while its batch went on
                await events.stopped(job)
                continue
            log.info("job %s made its image in %.2f s%s", job.id, result.seconds, _batch_note(jobs))
            self._count(result)
            await events.succeeded(job, result)

    def _count(self, result: GenerationResult) -> None:
        if self._images_done > 0:  # the first job warms up: not a fair speed
            per_image = result.seconds / max(len(result.images), 1)
            old = self._seconds_per_image
            self._seconds_per_image = per_image if old is None else 0.8 * old + 0.2 * per_image
        self._images_done += len(result.images)

    async def _fail_all(self, jobs: Sequence[ActiveJob], recorded: str, told: Message) -> None:
        for job in jobs:
            await self._reported.failed(job, recorded, told)

    async def close(self) -> None:
        """Let a running pipeline call reach its next step and return before the process exits;
        a model still loading (a long download) is not waited for."""
        model = self._model
        model_ready = model is not None and model.done()
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self._executor.shutdown, wait=model_ready, cancel_futures=True)
        )
