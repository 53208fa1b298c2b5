"""A bot-side service on a NATS backend, and GPU workers (in this process on a scripted runner,
or real `python bot.py worker` processes on the tiny model), for the cluster tests."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from cluster.backend import NatsBackend
from cluster.worker import WorkerProcess
from core.config import Config, GenerationConfig, ModelConfig, QuotaConfig, WorkerConfig, WorkersConfig
from core.errors import JobCancelled
from db.engine import create_sessionmaker
from db.jobs import JobStore
from db.quotas import QuotaStore
from generation.loader import LoadedModel
from generation.runner import RunControl
from generation.worker import GenerationWorker
from jobs.model import ActiveJob, GenerationResult, JobStatus, Place, RenderedImage
from jobs.scheduler import FairScheduler
from jobs.service import GenerationService
from moderation.classifier import OutputClassifier
from prompt.request import GenerationRequest
from quota.policy import QuotaAsk
from tests.e2e.harness import BotProcess
from tests.support.requests import sample_request

ROOT = Path(__file__).resolve().parents[2]
MODEL = "animagine-xl-3.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


@dataclass
class NatsServer:
    """A nats-server of a test's own (one that the test may stop and start again)."""

    store: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.process = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not answers("127.0.0.1", self.port):
            assert time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def workers_config(url: str, namespace: str, **changes: Any) -> WorkersConfig:
    base = WorkersConfig(backend="nats", nats_url=url, namespace=namespace, worker_timeout_s=3.0, ack_wait_s=10.0)
    return WorkersConfig(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **changes})


def place(user_id: int) -> Place:
    return Place(
        user_id=user_id, user_name=f"u{user_id}", guild_id=10, guild_name="g", channel_id=20, channel_nsfw=False
    )


def request(user_id: int, *, seed: int = 1, steps: int = 4, **changes: Any) -> GenerationRequest:
    return sample_request(user_id=user_id, seed=seed, steps=steps, **changes)


@dataclass
class Bot:
    """The bot's side: the service, its job store and quotas, on a NATS backend."""

    service: GenerationService
    store: JobStore
    quotas: QuotaStore
    backend: NatsBackend
    sent: list[tuple[str, tuple[int, ...]]]  # (worker, job ids) in the order batches were sent

    async def submit(self, user_id: int, **changes: Any) -> ActiveJob:
        ask = QuotaAsk(user_id=user_id, guild_id=10)
        return await self.service.submit(request(user_id, **changes), place(user_id), quota=ask)

    async def used(self, user_id: int) -> int:
        """Images charged to the member today (a refund takes one back)."""
        return (await self.quotas.status(QuotaAsk(user_id=user_id, guild_id=10))).used_today

    async def status(self, job_id: int) -> JobStatus:
        record = await self.store.get(job_id)
        assert record is not None
        return record.status


@contextlib.asynccontextmanager
async def bot(engine: Any, workers: WorkersConfig, *, daily: int = 0, start: bool = True) -> AsyncIterator[Bot]:
    sessions = create_sessionmaker(engine)
    quotas = QuotaStore(sessions, QuotaConfig(daily_images=daily, max_active=0, cooldown_s=0))
    store = JobStore(sessions, quotas)
    backend = NatsBackend(workers, model=MODEL)
    await backend.connect()
    sent: list[tuple[str, tuple[int, ...]]] = []
    original = backend.run_on

    async def recorded(lane: Any, batch: Sequence[ActiveJob]) -> None:
        sent.append((lane.name, tuple(job.id for job in batch)))
        await original(lane, batch)

    backend.run_on = recorded  # type: ignore[method-assign]
    service = GenerationService(store, FairScheduler(1000), backend, shutdown_grace_s=5)
    the_bot = Bot(service, store, quotas, backend, sent)
    if start:
        service.start()
    try:
        yield the_bot
    finally:
        await service.close()


@dataclass
class ScriptedRunner:
    """Stands in for generation.runner.run: one step per ``step_s`` while ``hold`` is clear,
    honours the cancel flag, and records each call's seeds."""

    step_s: float = 0.01
    hold: threading.Event = field(default_factory=threading.Event)
    calls: list[tuple[int, ...]] = field(default_factory=list)
    sources: list[dict[str, bytes]] = field(default_factory=list)  # what each call was given

    def __call__(
        self,
        model: LoadedModel,
        requests: Sequence[GenerationRequest],
        control: RunControl,
        *,
        classifier: OutputClassifier | None,
        sources: Mapping[str, bytes] | None = None,
    ) -> list[GenerationResult]:
        self.calls.append(tuple(r.seed for r in requests))
        self.sources.append(dict(sources or {}))
        steps = requests[0].steps
        for step in range(1, steps + 1):
            while self.hold.is_set():
                if control.is_cancelled is not None and control.is_cancelled():
                    raise JobCancelled()
                time.sleep(0.01)
            time.sleep(self.step_s)
            if control.is_cancelled is not None and control.is_cancelled():
                raise JobCancelled()
            if control.on_step is not None:
                control.on_step(step, steps)
        return [
            GenerationResult(
                images=(
                    RenderedImage(
                        png=f"png-{r.seed}".encode() * 1000,
                        width=r.width,
                        height=r.height,
                        seed=r.seed,
                        infotext=f"seed {r.seed}",
                    ),
                ),
                seconds=0.1,
            )
            for r in requests
        ]


def _fake_model() -> LoadedModel:
    encoder = SimpleNamespace(length=lambda prompt, negative: 1, check_tokens=lambda prompt, negative: None)
    return cast(LoadedModel, SimpleNamespace(device="cpu", dtype="float32", speedups=(), warmup=False, encoder=encoder))


@dataclass
class InProcessWorker:
    """A worker process's code (cluster.worker.WorkerProcess) running in this process."""

    process: WorkerProcess
    runner: ScriptedRunner
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def close(self) -> None:
        self.stop.set()
        self.process.stop_running()
        await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), 30)


@contextlib.asynccontextmanager
async def in_process_worker(
    workers: WorkersConfig,
    name: str,
    *,
    max_batch: int = 1,
    runner: ScriptedRunner | None = None,
    max_pixels: int = 0,
) -> AsyncIterator[InProcessWorker]:
    runner = runner or ScriptedRunner()
    config = Config(
        workers=workers,
        worker=WorkerConfig(name=name, max_pixels=max_pixels),
        generation=GenerationConfig(max_batch=max_batch),
        model=ModelConfig(name=MODEL),
    )
    model = _fake_model()
    engine = GenerationWorker(lambda: model, job_timeout_s=60, runner=runner, max_batch=max_batch)
    process = WorkerProcess(config, engine, gpu="scripted", memory_gb=0.0)
    stop = asyncio.Event()
    task = asyncio.create_task(process.run(stop))
    worker = InProcessWorker(process, runner, stop, task)
    try:
        yield worker
    finally:
        await worker.close()


async def wait_until(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def worker_process(config: Path, log: Path) -> BotProcess:
    """A real GPU worker: `python bot.py worker --config worker.toml` (one torch thread)."""
    return BotProcess(config=config, log=log, env={"OMP_NUM_THREADS": "1"}, command=("worker",))


def write_worker_config(
    folder: Path,
    name: str,
    model: Path,
    workers: WorkersConfig,
    *,
    max_batch: int = 2,
    moderation: Mapping[str, str] | None = None,
) -> Path:
    """``moderation``: the worker's [moderation] keys (default: the output check off)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    lines = [
        "[model]",
        f'source = "{model}"',
        'device = "cpu"',
        'warmup = "off"',
        "[generation]",
        f"max_batch = {max_batch}",
        "[worker]",
        f'name = "{name}"',
        "[workers]",
        'backend = "nats"',
        f'nats_url = "{workers.nats_url}"',
        f'namespace = "{workers.namespace}"',
        f"ack_wait_s = {workers.ack_wait_s}",
        f"max_deliveries = {workers.max_deliveries}",
        "[metrics]",
        'address = ""',  # workers side by side would all want the default port
        "[moderation]",
        *(f"{key} = {value!r}" for key, value in (moderation or {"classifier": "none"}).items()),
        "[logging]",
        'level = "INFO"',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def new_namespace() -> str:
    return f"t{uuid.uuid4().hex[:12]}"
