"""The in-memory side of a job: what the worker runs and what the member's message watches."""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from dataclasses import dataclass, field

from generation.runner import GenerationResult
from prompt.request import GenerationRequest


@dataclass(frozen=True, slots=True)
class Progress:
    step: int
    total: int


class StopReason(enum.Enum):
    CANCELLED = "cancelled"  # the member (or a moderator) asked
    SHUTDOWN = "shutdown"  # the bot is stopping: the job goes back to the queue


@dataclass(eq=False)
class ActiveJob:
    """A queued or running job. ``result`` resolves with the image or the error."""

    id: int
    request: GenerationRequest
    result: asyncio.Future[GenerationResult]
    progress: Progress | None = None
    started_at: float | None = None  # time.monotonic() when the worker took it
    stop_reason: StopReason | None = None
    preview: bytes | None = None  # a small JPEG of the latents, when one was asked for
    # Set by whoever shows progress; the pipeline's thread renders a preview at its next step.
    preview_wanted: threading.Event = field(default_factory=threading.Event)
    # Read from the pipeline's thread at every step, hence a thread-safe flag.
    cancel_flag: threading.Event = field(default_factory=threading.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def started(self) -> bool:
        return self.started_at is not None

    def report(self, progress: Progress) -> None:
        self.progress = progress
        self.changed.set()

    def mark_started(self) -> None:
        self.started_at = time.monotonic()
        self.changed.set()

    def show_preview(self, jpeg: bytes) -> None:
        self.preview = jpeg
        self.changed.set()

    def stop(self, reason: StopReason) -> None:
        """Ask the pipeline to stop at its next step. A member's cancel wins over a shutdown
        (they were told it would not be charged); otherwise the first reason stands."""
        if self.stop_reason is None or reason is StopReason.CANCELLED:
            self.stop_reason = reason
        self.cancel_flag.set()
        self.changed.set()
