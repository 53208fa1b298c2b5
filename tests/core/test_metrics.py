"""core.metrics: what the service reports becomes counts; scrape-time collectors read state; the
Grafana dashboard charts only names that exist."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

from core.errors import BadImage, ContentRefused, InvalidOption, NotAccepting, QueueFull, QuotaRefused
from core.metrics import Metrics, refusal_reason, watch_bot, watch_worker
from jobs.backend import WorkerStatus
from jobs.model import ActiveJob, GenerationResult, RenderedImage
from jobs.observer import Outcome
from jobs.scheduler import NORMAL, PRIORITY, FairScheduler
from tests.support.requests import sample_request

ROOT = Path(__file__).resolve().parents[2]


def _job(job_id: int, count: int = 1) -> ActiveJob:
    return ActiveJob(id=job_id, request=sample_request(count=count), result=asyncio.get_running_loop().create_future())


def _result(images: int, seconds: float = 2.5) -> GenerationResult:
    image = RenderedImage(png=b"png", width=64, height=64, seed=1, infotext="")
    return GenerationResult(images=(image,) * images, seconds=seconds)


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_what_the_service_reports_becomes_counts() -> None:
    metrics = Metrics()
    r = metrics.registry
    first, second, third = _job(1, count=2), _job(2), _job(3)
    for job in (first, second, third):
        metrics.queued(job)
    metrics.dispatched([first, second])  # one pipeline call, three images
    metrics.started(first)
    metrics.started(second)
    metrics.started(first)  # back in line after its worker left: waited once
    metrics.finished(first, Outcome.DONE, _result(2))
    metrics.finished(second, Outcome.WITHHELD, _result(1))
    metrics.finished(third, Outcome.CANCELLED, None)

    assert _value(r, "animagine_jobs_total", outcome="done") == 1
    assert _value(r, "animagine_jobs_total", outcome="withheld") == 1
    assert _value(r, "animagine_jobs_total", outcome="cancelled") == 1
    assert _value(r, "animagine_jobs_total", outcome="failed") == 0  # shown before it happens
    assert _value(r, "animagine_images_total") == 2  # the withheld image was not delivered
    assert _value(r, "animagine_refusals_total", reason="output_check") == 1
    assert _value(r, "animagine_wait_seconds_count") == 2
    assert _value(r, "animagine_generation_seconds_count") == 2
    assert _value(r, "animagine_generation_seconds_sum") == 5.0
    assert _value(r, "animagine_batch_images_count") == 1
    assert _value(r, "animagine_batch_images_sum") == 3


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (QueueFull("full"), "queue_full"),
        (NotAccepting("stopping"), "stopping"),
        (QuotaRefused("no"), "quota"),
        (ContentRefused("no"), "content"),
        (InvalidOption("steps", "bad"), "invalid"),
        (BadImage("bad"), "image"),
        (RuntimeError("?"), "other"),
    ],
)
def test_refusals_are_labelled_by_reason(error: Exception, reason: str) -> None:
    assert refusal_reason(error) == reason
    metrics = Metrics()
    metrics.refused(error)
    assert _value(metrics.registry, "animagine_refusals_total", reason=reason) == 1


class _Fleet:
    def __init__(self, *states: str) -> None:
        self.states = states
        self.load_seconds: float | None = None
        self.warmup_seconds: float | None = None

    def workers(self) -> list[WorkerStatus]:
        return [
            WorkerStatus(name=f"w{i}", gpu="", state=s, jobs=(), images_done=3, seconds_per_image=None, last_seen_s=0)
            for i, s in enumerate(self.states)
        ]


class _Service:
    def __init__(self, scheduler: FairScheduler) -> None:
        self.scheduler = scheduler
        self.running: tuple[object, ...] = ()

    def queue_lengths(self) -> dict[int, int]:
        return self.scheduler.lengths()


async def test_queue_and_workers_are_read_at_scrape_time() -> None:
    registry = CollectorRegistry()
    scheduler = FairScheduler(10)
    fleet = _Fleet("ready", "busy", "gone")
    service = _Service(scheduler)
    watch_bot(registry, service, fleet, fleet)
    assert _value(registry, "animagine_queue_jobs", tier="normal") == 0  # present while empty
    assert _value(registry, "animagine_model_load_seconds") is None  # not loaded yet
    for job_id, priority in ((1, NORMAL), (2, NORMAL), (3, PRIORITY)):
        job = ActiveJob(id=job_id, request=sample_request(user_id=job_id), result=asyncio.Future())
        scheduler.put(job, scheduler.claim(job_id, priority))
    service.running = (object(),)
    fleet.load_seconds, fleet.warmup_seconds = 12.5, 3.0
    assert _value(registry, "animagine_queue_jobs", tier="normal") == 2
    assert _value(registry, "animagine_queue_jobs", tier="priority") == 1
    assert _value(registry, "animagine_running_jobs") == 1
    assert _value(registry, "animagine_workers_online") == 2
    assert _value(registry, "animagine_workers", state="gone") == 1
    assert _value(registry, "animagine_model_load_seconds") == 12.5
    assert _value(registry, "animagine_model_warmup_seconds") == 3.0


def _fake_torch(initialized: bool) -> types.ModuleType:
    cuda = types.SimpleNamespace(
        is_initialized=lambda: initialized,
        device_count=lambda: 2,
        memory_allocated=lambda i: 100 * (i + 1),
        memory_reserved=lambda i: 200 * (i + 1),
        max_memory_allocated=lambda i: 150 * (i + 1),
    )
    torch = types.ModuleType("torch")
    torch.cuda = cuda  # type: ignore[attr-defined]
    return torch


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    yield
    assert "torch" not in sys.modules, "a scrape imported torch"


@pytest.mark.usefixtures("no_torch")
def test_gpu_memory_is_absent_without_torch_and_never_imports_it() -> None:
    registry = CollectorRegistry()
    watch_worker(registry, _Fleet("loading"))
    assert _value(registry, "animagine_gpu_memory_used_bytes", device="0") is None
    assert _value(registry, "animagine_workers_online") is None  # the bot counts the workers


def test_gpu_memory_per_device_once_cuda_is_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = CollectorRegistry()
    watch_worker(registry, _Fleet("ready"))
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(initialized=False))
    assert _value(registry, "animagine_gpu_memory_used_bytes", device="0") is None  # no CUDA context made
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(initialized=True))
    assert _value(registry, "animagine_gpu_memory_used_bytes", device="1") == 200
    assert _value(registry, "animagine_gpu_memory_reserved_bytes", device="0") == 200
    assert _value(registry, "animagine_gpu_memory_peak_bytes", device="1") == 300
    assert _value(registry, "animagine_worker_images_total") == 3


async def test_discord_http_errors_and_rate_limits_are_counted() -> None:
    async def answer(request: web.Request) -> web.Response:
        status = int(request.match_info["status"])
        headers = {"X-RateLimit-Scope": request.query.get("scope", "user")} if status == 429 else {}
        return web.json_response({}, status=status, headers=headers)

    app = web.Application()
    app.router.add_get("/{status}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    metrics = Metrics()
    try:
        async with aiohttp.ClientSession(trace_configs=[metrics.discord_trace()]) as session:
            for path in ("200", "404", "404", "500", "429", "429?scope=global", "429?scope=odd"):
                async with session.get(f"http://127.0.0.1:{port}/{path}"):
                    pass
            with pytest.raises(aiohttp.ClientError):
                async with session.get("http://127.0.0.1:1/"):  # nothing listens there
                    pass
    finally:
        await runner.cleanup()
    r = metrics.registry
    assert _value(r, "animagine_discord_http_errors_total", status="404") == 2
    assert _value(r, "animagine_discord_http_errors_total", status="500") == 1
    assert _value(r, "animagine_discord_http_errors_total", status="429") is None
    assert _value(r, "animagine_discord_http_errors_total", status="connection") == 1
    assert _value(r, "animagine_discord_rate_limits_total", scope="user") == 2
    assert _value(r, "animagine_discord_rate_limits_total", scope="global") == 1


def _sample_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name the registry can show (labelled metrics without a child yet included)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    metrics: list[Metric] = list(registry.collect())
    return {m.name + suffix for m in metrics for suffix in suffixes[m.type]}


def test_the_grafana_dashboard_charts_only_metrics_that_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", _fake_torch(initialized=True))
    fleet = _Fleet("ready")
    fleet.load_seconds = fleet.warmup_seconds = 1.0
    bot, worker = Metrics(), CollectorRegistry()
    watch_bot(bot.registry, _Service(FairScheduler(1)), fleet, fleet)
    watch_worker(worker, fleet)
    known = _sample_names(bot.registry) | _sample_names(worker)

    dashboard = json.loads((ROOT / "deploy/grafana/animagine.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    used = {name for query in queries for name in re.findall(r"\banimagine_[a-z_]+", query)}
    assert queries and used
    assert used <= known, f"not exported: {sorted(used - known)}"
    # And every metric is charted somewhere (or it would be dead weight).
    charted = {re.sub(r"_(bucket|sum|count|total)$", "", name) for name in used}
    exported = {re.sub(r"_(bucket|sum|count|total)$", "", name) for name in known}
    assert exported <= charted, f"not on the dashboard: {sorted(exported - charted)}"
