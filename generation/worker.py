"""The GPU worker: an asyncio task that runs queued jobs one at a time in a dedicated thread."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from core.errors import GenerationFailed, JobCancelled, ModelLoadError
from db.jobs import JobStore
from generation.jobs import ActiveJob, Progress
from generation.loader import LoadedModel
from generation.prompt import PromptError
from generation.queue import JobQueue
from generation.runner import GenerationResult, run_request
from moderation.classifier import OutputClassifier

log = logging.getLogger(__name__)

ModelLoader = Callable[[], LoadedModel]


class GenerationWorker:
    """Loads the model off the event loop, then drains the queue.

    One thread owns the pipeline: diffusers pipelines are not safe to call concurrently, and
    one image at a time already saturates a GPU at these sizes.
    """

    def __init__(
        self,
        load_model: ModelLoader,
        queue: JobQueue,
        store: JobStore,
        *,
        job_timeout_s: float,
        classifier: OutputClassifier | None = None,
    ) -> None:
        self._load_model = load_model
        self._classifier = classifier
        self._queue = queue
        self._store = store
        self._job_timeout_s = job_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gpu-worker")
        self._model: asyncio.Future[LoadedModel] | None = None
        self._task: asyncio.Task[None] | None = None
        self._current: ActiveJob | None = None

    @property
    def current(self) -> ActiveJob | None:
        return self._current

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._model = asyncio.ensure_future(loop.run_in_executor(self._executor, self._load_and_log))
        self._task = asyncio.create_task(self._run(), name="generation-worker")

    def _load_and_log(self) -> LoadedModel:
        started = time.perf_counter()
        model = self._load_model()
        log.info("model ready on %s (%s) in %.1f s", model.device, model.dtype, time.perf_counter() - started)
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
            job = await self._queue.get()
            self._current = job
            try:
                await self._process(model, job)
            except Exception:  # the worker must outlive any one job
                log.exception("job %s: unexpected error", job.id)
                if not job.result.done():
                    job.result.set_exception(GenerationFailed("Something went wrong while generating."))
            finally:
                self._current = None

    async def _process(self, model: LoadedModel | None, job: ActiveJob) -> None:
        if job.result.done():  # cancelled while it waited
            return
        if model is None:
            error = self._model.exception() if self._model is not None and self._model.done() else None
            detail = str(error) if isinstance(error, ModelLoadError) else "the model failed to load"
            await self._store.mark_failed(job.id, detail)
            job.result.set_exception(GenerationFailed(f"The image model is not available: {detail}."))
            return
        loop = asyncio.get_running_loop()
        await self._store.mark_running(job.id)
        job.mark_started()

        def on_step(step: int, total: int) -> None:
            loop.call_soon_threadsafe(job.report, Progress(step, total))

        running = loop.run_in_executor(
            self._executor,
            lambda: run_request(
                model,
                job.request,
                on_step=on_step,
                is_cancelled=job.cancel_flag.is_set,
                classifier=self._classifier,
            ),
        )
        try:
            result: GenerationResult = await asyncio.wait_for(asyncio.shield(running), self._job_timeout_s)
        except TimeoutError:
            # A thread cannot be killed: ask the pipeline to stop at its next step and wait.
            job.cancel_flag.set()
            await asyncio.gather(running, return_exceptions=True)
            message = f"The job took longer than {self._job_timeout_s:g} s and was stopped."
            await self._store.mark_failed(job.id, message)
            job.result.set_exception(GenerationFailed(message))
            return
        except PromptError as exc:  # e.g. too many tokens: the member can fix this
            await self._store.mark_failed(job.id, str(exc))
            job.result.set_exception(GenerationFailed(str(exc)))
            return
        except JobCancelled:
            await self._store.mark_cancelled(job.id)
            if not job.result.done():
                job.result.set_exception(JobCancelled())
            return
        except Exception as exc:
            log.exception("job %s failed", job.id)
            await self._store.mark_failed(job.id, f"{type(exc).__name__}: {exc}")
            job.result.set_exception(GenerationFailed("The image could not be generated (the error was logged)."))
            return
        await self._store.mark_done(job.id, result.seconds)
        job.result.set_result(result)

    async def close(self) -> None:
        """Stop at the next step; jobs that cannot finish are recorded as failed, not left running."""
        model_ready = self._model is not None and self._model.done()
        if self._model is not None and model_ready and not self._model.cancelled():
            self._model.exception()  # retrieved: a failed load was already reported by _run
        current = self._current
        if current is not None:
            current.cancel_flag.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        reason = "the bot shut down before this job finished"
        for job in [*([current] if current is not None else []), *self._queue.drain()]:
            if not job.result.done():
                await self._store.mark_failed(job.id, reason)
                job.result.set_exception(JobCancelled())
        # Let a running pipeline call reach its next step and return before the process exits;
        # a model still loading (a long download) is not waited for.
        await asyncio.get_running_loop().run_in_executor(
            None, functools.partial(self._executor.shutdown, wait=model_ready, cancel_futures=True)
        )
