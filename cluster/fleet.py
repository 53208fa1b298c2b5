"""The bot's view of its GPU workers: who is there, what each can run, and which are free."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field

from cluster.wire import Hello
from jobs.backend import WorkerStatus
from jobs.model import ActiveJob
from prompt.request import GenerationRequest

RunOn = Callable[["WorkerLane", Sequence[ActiveJob]], Awaitable[None]]

log = logging.getLogger(__name__)


class WorkerLane:
    """One worker's slot: the service hands it one batch at a time (``jobs.backend.Lane``)."""

    def __init__(self, run_on: RunOn, name: str) -> None:
        self._run_on = run_on
        self.name = name
        self.hello: Hello | None = None

    def __repr__(self) -> str:
        return f"WorkerLane({self.name!r})"

    @property
    def max_batch(self) -> int:
        return self.hello.max_batch if self.hello is not None else 1

    def fits(self, request: GenerationRequest) -> bool:
        hello = self.hello
        if hello is None:
            return False
        width, height = request.output_size
        return hello.max_pixels == 0 or width * height <= hello.max_pixels

    def batch_key(self, request: GenerationRequest) -> Hashable | None:
        # Without the tokenizer the bot cannot count prompt chunks: the worker splits a batch
        # whose prompts need different chunk counts into pipeline calls of its own.
        return request.batch_traits()

    async def run(self, batch: Sequence[ActiveJob]) -> None:
        await self._run_on(self, batch)


@dataclass
class _Seen:
    lane: WorkerLane
    last_seen: float = field(default_factory=time.monotonic)
    online: bool = True
    suspended: bool = False  # its last batch stalled: nothing more until it is idle again


class Fleet:
    """Workers by name, from their hellos; a worker silent for ``timeout_s`` is gone."""

    def __init__(self, run_on: RunOn, model: str, timeout_s: float) -> None:
        self._run_on = run_on
        self._model = model
        self._timeout_s = timeout_s
        self._seen: dict[str, _Seen] = {}
        self._refused: set[tuple[str, str]] = set()  # (worker, model) mismatches already logged

    def lane(self, name: str) -> WorkerLane:
        """The lane of a worker, known or not yet (a batch recovered after a restart)."""
        seen = self._seen.get(name)
        if seen is None:
            seen = self._seen[name] = _Seen(WorkerLane(self._run_on, name), online=False)
        return seen.lane

    def heard_all(self) -> None:
        now = time.monotonic()
        for seen in self._seen.values():
            seen.last_seen = now

    def heard(self, name: str) -> None:
        seen = self._seen.get(name)
        if seen is not None:
            seen.last_seen = time.monotonic()

    def hello(self, hello: Hello) -> tuple[bool, bool]:
        """Record a hello; returns (the lanes changed, the worker restarted since its last hello)."""
        lane = self.lane(hello.name)
        seen = self._seen[hello.name]
        previous = lane.hello
        restarted = previous is not None and previous.boot != hello.boot
        came_back = not seen.online
        seen.online, seen.last_seen = True, time.monotonic()
        if seen.suspended and (restarted or hello.state == "ready"):
            seen.suspended = False
            log.info("worker %s is idle again: it takes jobs again", hello.name)
            came_back = True
        lane.hello = hello
        if came_back:
            log.info(
                "worker %s is here: %s, %s, model %s, batches of %d",
                hello.name,
                hello.gpu,
                hello.state,
                hello.model,
                hello.max_batch,
            )
        changed = came_back or restarted or previous is None or previous.state != hello.state
        return changed, restarted

    def usable(self, lane: WorkerLane) -> bool:
        hello = lane.hello
        seen = self._seen[lane.name]
        if hello is None or not seen.online or seen.suspended or hello.state not in ("ready", "busy"):
            return False
        if hello.model != self._model:
            if (lane.name, hello.model) not in self._refused:
                self._refused.add((lane.name, hello.model))
                log.error(
                    "worker %s runs model %r, not %r ([model] name): it gets no jobs",
                    lane.name,
                    hello.model,
                    self._model,
                )
            return False
        return True

    def lanes(self) -> list[WorkerLane]:
        return [seen.lane for seen in self._seen.values() if self.usable(seen.lane)]

    def expire(self, on_gone: Callable[[WorkerLane], None]) -> None:
        """Mark the workers not heard from for ``timeout_s`` as gone."""
        now = time.monotonic()
        for name, seen in self._seen.items():
            if seen.online and now - seen.last_seen > self._timeout_s:
                seen.online = False
                log.warning("worker %s went away (not heard from for %.0f s)", name, now - seen.last_seen)
                on_gone(seen.lane)
            elif not seen.online and seen.lane.hello is None and now - seen.last_seen > self._timeout_s:
                seen.last_seen = now  # asked again only after another timeout
                on_gone(seen.lane)  # a worker a recovered batch was sent to, never heard from since

    def suspend(self, name: str) -> None:
        self._seen[name].suspended = True

    def workers(self) -> list[WorkerStatus]:
        now = time.monotonic()
        statuses = []
        for name, seen in sorted(self._seen.items()):
            hello = seen.lane.hello
            if hello is None:
                continue
            statuses.append(
                WorkerStatus(
                    name=name,
                    gpu=hello.gpu,
                    state=("stalled" if seen.suspended else hello.state) if seen.online else "gone",
                    jobs=hello.jobs if seen.online else (),
                    images_done=hello.images_done,
                    seconds_per_image=hello.seconds_per_image,
                    last_seen_s=now - seen.last_seen,
                    error=hello.error,
                )
            )
        return statuses
