"""The job model: its status, who asked where, its place in the queue, its result, and the
in-memory side the worker runs and the member's message watches. Imports neither torch nor
SQLAlchemy, so the scheduler, the service and the cogs can use it without loading either."""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from moderation.scores import RatingScores
from prompt.request import GenerationRequest


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Place:
    """Who asked, and where; recorded so jobs and audits can name them."""

    user_id: int
    user_name: str
    guild_id: int | None
    guild_name: str
    channel_id: int
    channel_nsfw: bool


@dataclass(frozen=True, slots=True)
class QueueSlot:
    """Where the fair scheduler put the job; stored so a restart keeps the order."""

    round: int = 0
    priority: int = 0


@dataclass(frozen=True, slots=True)
class UnfinishedJob:
    """A job to resume after a restart, with what delivery needs."""

    id: int
    status: JobStatus
    request: GenerationRequest
    slot: QueueSlot
    channel_nsfw: bool
    interaction_id: int | None
    interaction_token: str | None
    source_png: bytes | None = None  # a remix's source image
    private: bool = False  # the member's answer is ephemeral: a late result goes to their DMs
    locale: str = "en-US"  # the member's Discord locale: a late message is written in their language


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: int
    status: JobStatus
    request: GenerationRequest
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RenderedImage:
    png: bytes
    width: int
    height: int
    seed: int
    infotext: str
    scores: RatingScores | None = None  # the output check's verdict, when one is configured


@dataclass(frozen=True, slots=True)
class GenerationResult:
    images: tuple[RenderedImage, ...]
    seconds: float  # pipeline time, encoding included

    # The first image, for callers that asked for one.
    @property
    def png(self) -> bytes:
        return self.images[0].png

    @property
    def width(self) -> int:
        return self.images[0].width

    @property
    def height(self) -> int:
        return self.images[0].height

    @property
    def infotext(self) -> str:
        return self.images[0].infotext

    @property
    def scores(self) -> RatingScores | None:
        return self.images[0].scores


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
    slot: QueueSlot | None = None  # its place in the fair order, kept to put it back there
    source_png: bytes | None = field(default=None, repr=False)  # a remix's fitted source image

    @property
    def started(self) -> bool:
        return self.started_at is not None

    def report(self, progress: Progress) -> None:
        self.progress = progress
        self.changed.set()

    def mark_started(self) -> None:
        self.started_at = time.monotonic()
        self.changed.set()

    def back_in_line(self) -> None:
        """It did not run to the end where it was sent and waits in the queue again."""
        self.started_at = None
        self.progress = None
        self.preview = None
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
