"""The in-memory side of a job: what the worker runs and what the member's message watches."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from generation.request import GenerationRequest
from generation.runner import GenerationResult


@dataclass(frozen=True, slots=True)
class Progress:
    step: int
    total: int


@dataclass(eq=False)
class ActiveJob:
    """A queued or running job. ``result`` resolves with the image or the error."""

    id: int
    request: GenerationRequest
    result: asyncio.Future[GenerationResult]
    progress: Progress | None = None
    started: bool = False
    # Read from the pipeline's thread at every step, hence a thread-safe flag.
    cancel_flag: threading.Event = field(default_factory=threading.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def report(self, progress: Progress) -> None:
        self.progress = progress
        self.changed.set()

    def mark_started(self) -> None:
        self.started = True
        self.changed.set()
