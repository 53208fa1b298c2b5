"""What Prometheus scrapes from the bot and from each GPU worker (names start with ``animagine_``).

Everything lives on a ``CollectorRegistry`` that ``bot.py`` creates and passes in, never on
prometheus_client's global one. Most numbers are observed from the outside: the job service
reports to ``Metrics`` as its ``jobs.observer.JobObserver``; queue lengths, workers, model
start-up times and GPU memory are read at scrape time by collectors, so no layer below counts
anything. deploy/grafana/animagine.json charts exactly these names (a test checks).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

import aiohttp
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.errors import (
    BadImage,
    ContentRefused,
    InvalidOption,
    NotAccepting,
    PromptError,
    QueueFull,
    QuotaRefused,
    TaggerUnavailable,
)
from jobs.backend import Fleet
from jobs.model import ActiveJob, GenerationResult
from jobs.observer import Outcome
from jobs.scheduler import NORMAL, PRIORITY

TIERS = {NORMAL: "normal", PRIORITY: "priority"}
ONLINE = frozenset({"ready", "busy"})  # a worker in these states takes (or runs) jobs
_REFUSALS: tuple[tuple[type[BaseException], str], ...] = (
    (QueueFull, "queue_full"),
    (NotAccepting, "stopping"),
    (QuotaRefused, "quota"),
    (ContentRefused, "content"),
    (InvalidOption, "invalid"),
    (PromptError, "invalid"),
    (BadImage, "image"),
    (TaggerUnavailable, "tagger"),
)
# Discord's X-RateLimit-Scope values; anything else is folded in, so the label set stays small.
_SCOPES = frozenset({"user", "global", "shared"})


def refusal_reason(error: BaseException) -> str:
    """The ``reason`` label of a refused request."""
    return next((reason for kind, reason in _REFUSALS if isinstance(error, kind)), "other")


class Metrics:
    """The bot's counters and histograms; the job service's observer."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # A private registry by default (tests, a BotContext built without one).
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.jobs = Counter("animagine_jobs", "Jobs that reached their end, by outcome", ["outcome"], registry=r)
        for outcome in Outcome:  # every outcome shows, at 0, from the first scrape
            self.jobs.labels(outcome=outcome.value)
        self.refusals = Counter("animagine_refusals", "Requests refused, by reason", ["reason"], registry=r)
        self.images = Counter("animagine_images", "Images made and delivered", registry=r)
        self.wait = Histogram(
            "animagine_wait_seconds",
            "Seconds a job waited in line before its pipeline call began",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
            registry=r,
        )
        self.generation = Histogram(
            "animagine_generation_seconds",
            "Pipeline seconds per job (its batch's call, encoding included)",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.batch_images = Histogram(
            "animagine_batch_images", "Images per pipeline call", buckets=(1, 2, 3, 4, 6, 8, 12, 16), registry=r
        )
        self.discord_http_errors = Counter(
            "animagine_discord_http_errors",
            "Discord HTTP answers 400 and above (429 excepted), or 'connection' when none came",
            ["status"],
            registry=r,
        )
        self.discord_rate_limits = Counter(
            "animagine_discord_rate_limits", "Discord HTTP 429 answers, by scope", ["scope"], registry=r
        )
        self.autocomplete = Histogram(
            "animagine_autocomplete_seconds",
            "Seconds to answer one tag autocomplete",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
            registry=r,
        )
        self._queued_at: dict[int, float] = {}

    # --- jobs.observer.JobObserver ------------------------------------------------------------

    def queued(self, job: ActiveJob) -> None:
        self._queued_at[job.id] = time.monotonic()

    def dispatched(self, batch: Sequence[ActiveJob]) -> None:
        self.batch_images.observe(sum(job.request.count for job in batch))

    def started(self, job: ActiveJob) -> None:
        # Only the first start counts: a job back in line after its worker went away waited once.
        queued_at = self._queued_at.pop(job.id, None)
        if queued_at is not None:
            self.wait.observe(time.monotonic() - queued_at)

    def finished(self, job: ActiveJob, outcome: Outcome, result: GenerationResult | None) -> None:
        self._queued_at.pop(job.id, None)
        self.jobs.labels(outcome=outcome.value).inc()
        if outcome is Outcome.WITHHELD:
            self.refusals.labels(reason="output_check").inc()
        if result is not None:
            self.generation.observe(result.seconds)
            if outcome is Outcome.DONE:
                self.images.inc(len(result.images))

    # --- the rest of the bot --------------------------------------------------------------

    def refused(self, error: BaseException) -> None:
        self.refusals.labels(reason=refusal_reason(error)).inc()

    def discord_trace(self) -> aiohttp.TraceConfig:
        """For discord.py's ``http_trace``: every REST call (interaction answers included) ends
        here with its status. A public, documented hook of discord.py and aiohttp, unlike
        wrapping ``HTTPClient.request`` (private, and it retries 429s inside) or parsing the
        wording of its log lines."""
        trace = aiohttp.TraceConfig()

        async def on_end(
            session: aiohttp.ClientSession, context: object, params: aiohttp.TraceRequestEndParams
        ) -> None:
            status = params.response.status
            if status == 429:
                scope = params.response.headers.get("X-RateLimit-Scope", "user")
                self.discord_rate_limits.labels(scope=scope if scope in _SCOPES else "user").inc()
            elif status >= 400:
                self.discord_http_errors.labels(status=str(status)).inc()

        async def on_exception(
            session: aiohttp.ClientSession, context: object, params: aiohttp.TraceRequestExceptionParams
        ) -> None:
            self.discord_http_errors.labels(status="connection").inc()

        trace.on_request_end.append(on_end)
        trace.on_request_exception.append(on_exception)
        return trace


class Startup(Protocol):
    """An engine that loads the model (``generation.worker.GenerationWorker``)."""

    @property
    def load_seconds(self) -> float | None: ...

    @property
    def warmup_seconds(self) -> float | None: ...


class QueueCollector(Collector):
    """Jobs waiting per tier and jobs running, read from the service at scrape time."""

    def __init__(self, lengths: Callable[[], Mapping[int, int]], running: Callable[[], Sequence[object]]) -> None:
        self._lengths = lengths
        self._running = running

    def collect(self) -> Iterable[Metric]:
        queue = GaugeMetricFamily("animagine_queue_jobs", "Jobs waiting in line, per tier", labels=["tier"])
        for priority, count in sorted(self._lengths().items()):
            queue.add_metric([TIERS.get(priority, str(priority))], count)
        yield queue
        yield GaugeMetricFamily("animagine_running_jobs", "Jobs being generated now", value=len(self._running()))


class FleetCollector(Collector):
    """GPU workers (or this process's own GPU) by state."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet

    def collect(self) -> Iterable[Metric]:
        states = [worker.state for worker in self._fleet.workers()]
        yield GaugeMetricFamily(
            "animagine_workers_online", "GPU workers ready or busy", value=sum(s in ONLINE for s in states)
        )
        by_state = GaugeMetricFamily("animagine_workers", "GPU workers known, by state", labels=["state"])
        for state in sorted(set(states)):
            by_state.add_metric([state], states.count(state))
        yield by_state


class StartupCollector(Collector):
    """Model load and warm-up seconds, once known (absent before)."""

    def __init__(self, engine: Startup) -> None:
        self._engine = engine

    def collect(self) -> Iterable[Metric]:
        load, warmup = self._engine.load_seconds, self._engine.warmup_seconds
        if load is not None:
            yield GaugeMetricFamily("animagine_model_load_seconds", "Seconds the model took to load", value=load)
        if warmup is not None:
            yield GaugeMetricFamily("animagine_model_warmup_seconds", "Seconds the warm-up took", value=warmup)


class ImagesDoneCollector(Collector):
    """A GPU worker process's own count of images made (the bot counts delivered ones)."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet

    def collect(self) -> Iterable[Metric]:
        done = sum(worker.images_done for worker in self._fleet.workers())
        yield CounterMetricFamily("animagine_worker_images", "Images this GPU worker made", value=done)


class GpuMemoryCollector(Collector):
    """CUDA memory of this process, per device. Reads torch only when this process already
    imported it and CUDA is initialised: a scrape never loads torch (the NATS bot has none) nor
    creates a CUDA context. Absent on the CPU."""

    def collect(self) -> Iterable[Metric]:
        torch = sys.modules.get("torch")
        cuda = getattr(torch, "cuda", None)
        if cuda is None or not cuda.is_initialized():
            return
        used = GaugeMetricFamily("animagine_gpu_memory_used_bytes", "CUDA memory in use by tensors", labels=["device"])
        reserved = GaugeMetricFamily(
            "animagine_gpu_memory_reserved_bytes", "CUDA memory held by the caching allocator", labels=["device"]
        )
        peak = GaugeMetricFamily(
            "animagine_gpu_memory_peak_bytes", "Most CUDA memory in use by tensors since start", labels=["device"]
        )
        for index in range(cuda.device_count()):
            device = [str(index)]
            used.add_metric(device, cuda.memory_allocated(index))
            reserved.add_metric(device, cuda.memory_reserved(index))
            peak.add_metric(device, cuda.max_memory_allocated(index))
        yield from (used, reserved, peak)


class _Service(Protocol):
    def queue_lengths(self) -> Mapping[int, int]: ...

    @property
    def running(self) -> Sequence[object]: ...


def watch_bot(registry: CollectorRegistry, service: _Service, fleet: Fleet, engine: Startup | None) -> None:
    """The bot's scrape-time numbers; ``engine`` when the model runs in this process."""
    registry.register(QueueCollector(service.queue_lengths, lambda: service.running))
    registry.register(FleetCollector(fleet))
    registry.register(GpuMemoryCollector())
    if engine is not None:
        registry.register(StartupCollector(engine))


class _Engine(Startup, Fleet, Protocol):
    pass


def watch_worker(registry: CollectorRegistry, engine: _Engine) -> None:
    """A GPU worker process's numbers (its jobs are counted by the bot)."""
    registry.register(StartupCollector(engine))
    registry.register(GpuMemoryCollector())
    # Not its FleetCollector: the bot's animagine_workers_online already counts this worker.
    registry.register(ImagesDoneCollector(engine))
