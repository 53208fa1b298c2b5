"""What travels between the bot and its GPU workers, and where (one home for both sides).

Layout, for namespace ``N`` (``[workers] namespace``):

- stream ``N-work``, subjects ``N.work.<worker>.<assignment>``: one message per batch sent to
  one worker (work-queue retention, de-duplicated by message id); each worker pulls from its
  own durable consumer ``work-<worker>`` (explicit acks, ack wait, max deliveries, at most one
  unacknowledged message, so a worker never holds a backlog);
- stream ``N-events``, subjects ``N.events.<worker>.<job id>``: started, succeeded, failed and
  stopped, read by the bot's durable consumer ``bot`` (a result survives a bot restart);
- object store ``N-results``: the PNGs of a succeeded job, ``<assignment>/<job id>/<n>.png``;
- plain subjects: ``N.hello.<worker>`` (presence and capabilities, every second),
  ``N.progress.<worker>`` (steps and previews), ``N.control.<worker>`` (cancel, preview asks).

Every subject a worker publishes on carries its name, so the server's permissions can hold a
worker to its own subjects, and the bot checks an event's worker against the one it sent the
job to.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from core.text import Message, Text, as_text
from jobs.model import RenderedImage
from moderation.scores import MinorScore, RatingScores
from prompt.request import GenerationRequest

WORKER_STATES = ("loading", "ready", "busy", "failed")
WorkerState = Literal["loading", "ready", "busy", "failed"]
EventKind = Literal["started", "succeeded", "failed", "stopped"]
TERMINAL: frozenset[str] = frozenset({"succeeded", "failed", "stopped"})


@dataclass(frozen=True, slots=True)
class Names:
    """Every stream, consumer, bucket and subject name, from the namespace."""

    namespace: str = "imagine"

    @property
    def work_stream(self) -> str:
        return f"{self.namespace}-work"

    @property
    def events_stream(self) -> str:
        return f"{self.namespace}-events"

    @property
    def results_bucket(self) -> str:
        return f"{self.namespace}-results"

    @property
    def sources_bucket(self) -> str:
        """Remixes' source images, put by the bot, read by the workers (by digest)."""
        return f"{self.namespace}-sources"

    bot_consumer = "bot"

    def work_consumer(self, worker: str) -> str:
        return f"work-{worker}"

    def work(self, worker: str, assignment: str = ">") -> str:
        return f"{self.namespace}.work.{worker}.{assignment}"

    def events(self, worker: str = "*", job_id: int | str = "*") -> str:
        return f"{self.namespace}.events.{worker}.{job_id}"

    def hello(self, worker: str = "*") -> str:
        return f"{self.namespace}.hello.{worker}"

    def progress(self, worker: str = "*") -> str:
        return f"{self.namespace}.progress.{worker}"

    def control(self, worker: str) -> str:
        return f"{self.namespace}.control.{worker}"

    def worker_of(self, subject: str) -> str:
        """The worker token of a work, events, hello or progress subject."""
        return subject.split(".")[2]


def _dump(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _load(payload: bytes) -> dict[str, Any]:
    data = json.loads(payload)
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


@dataclass(frozen=True, slots=True)
class WorkOrder:
    """One batch for one worker. ``assignment`` names this try of this batch (a batch sent again
    after its worker went away gets a new one), so late reports of an old try are ignored."""

    assignment: str
    jobs: tuple[tuple[int, GenerationRequest], ...]

    def encode(self) -> bytes:
        return _dump({"assignment": self.assignment, "jobs": [[i, r.to_json()] for i, r in self.jobs]})

    @classmethod
    def decode(cls, payload: bytes) -> WorkOrder:
        data = _load(payload)
        jobs = tuple((int(i), GenerationRequest.from_json(r)) for i, r in data["jobs"])
        return cls(assignment=str(data["assignment"]), jobs=jobs)


@dataclass(frozen=True, slots=True)
class Hello:
    """A worker's presence: who it is, what it can run, what it is doing."""

    name: str
    boot: str  # differs for each start of the process: a new boot means the old one died
    state: WorkerState
    model: str
    gpu: str
    memory_gb: float
    max_batch: int
    max_pixels: int  # 0 = any size
    jobs: tuple[int, ...] = ()
    images_done: int = 0
    seconds_per_image: float | None = None  # after warm-up
    error: str = ""

    def encode(self) -> bytes:
        return _dump(dataclasses.asdict(self))

    @classmethod
    def decode(cls, payload: bytes) -> Hello:
        data = _load(payload)
        if data.get("state") not in WORKER_STATES:
            raise ValueError(f"unknown worker state {data.get('state')!r}")
        per_image = data.get("seconds_per_image")
        # Typed field by field: a worker of another version must not put a string where the
        # dispatcher does arithmetic.
        return cls(
            name=str(data["name"]),
            boot=str(data["boot"]),
            state=data["state"],
            model=str(data["model"]),
            gpu=str(data.get("gpu", "")),
            memory_gb=float(data.get("memory_gb", 0.0)),
            max_batch=max(int(data["max_batch"]), 1),
            max_pixels=max(int(data.get("max_pixels", 0)), 0),
            jobs=tuple(int(i) for i in data.get("jobs", ())),
            images_done=int(data.get("images_done", 0)),
            seconds_per_image=None if per_image is None else float(per_image),
            error=str(data.get("error", "")),
        )


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """One image of a result; its PNG is in the object store under ``key``."""

    key: str
    width: int
    height: int
    seed: int
    infotext: str
    scores: tuple[float, float, float, float] | None = None
    # The tagger's most confident minor-coded label and its confidence, beside (not inside) the
    # four ratings: a bot of an older version reads `scores` as four numbers and skips this key,
    # and a message from an older worker, without it, reads as "no minor information".
    minor: tuple[str, float] | None = None

    @classmethod
    def of(cls, key: str, image: RenderedImage) -> ImageInfo:
        s = image.scores
        scores = None if s is None else (s.general, s.sensitive, s.questionable, s.explicit)
        minor = None if s is None or s.minor is None else (s.minor.tag, s.minor.confidence)
        return cls(key, image.width, image.height, image.seed, image.infotext, scores, minor)

    def image(self, png: bytes) -> RenderedImage:
        minor = None if self.minor is None else MinorScore(*self.minor)
        scores = None if self.scores is None else RatingScores(*self.scores, minor=minor)
        return RenderedImage(png, self.width, self.height, self.seed, self.infotext, scores)

    @classmethod
    def decode(cls, data: dict[str, Any]) -> ImageInfo:
        """One image of an event, typed field by field."""
        scores = data.get("scores")
        minor = data.get("minor")
        return cls(
            key=str(data["key"]),
            width=int(data["width"]),
            height=int(data["height"]),
            seed=int(data["seed"]),
            infotext=str(data["infotext"]),
            scores=None if scores is None else _four(scores),
            minor=None if minor is None else (str(minor[0]), float(minor[1])),
        )


def _four(values: Any) -> tuple[float, float, float, float]:
    general, sensitive, questionable, explicit = (float(x) for x in values)
    return general, sensitive, questionable, explicit


@dataclass(frozen=True, slots=True)
class Event:
    """What happened to one job of an assignment."""

    kind: EventKind
    assignment: str
    job_id: int
    seconds: float = 0.0
    images: tuple[ImageInfo, ...] = ()
    recorded: str = ""  # failed: for the job record
    told: str = ""  # failed: for the member, in English (what a bot of an older version shows)
    # failed: the member's message as a template and its values, so that the bot can show it in
    # the member's language (values are sent as English text).
    told_template: str = ""
    told_values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def failure(cls, assignment: str, job_id: int, recorded: str, told: Message) -> Event:
        template, values = (
            (told.msgid, tuple((k, as_text(v)) for k, v in told.values)) if isinstance(told, Text) else ("", ())
        )
        return cls(
            "failed", assignment, job_id, recorded=recorded, told=str(told), told_template=template, told_values=values
        )

    def told_message(self) -> Message:
        """What the member is told, translatable when the worker sent its template."""
        return Text(self.told_template, self.told_values) if self.told_template else self.told

    def encode(self) -> bytes:
        return _dump(dataclasses.asdict(self))

    @classmethod
    def decode(cls, payload: bytes) -> Event:
        data = _load(payload)
        images = tuple(ImageInfo.decode(i) for i in data.get("images", ()))
        if data.get("kind") not in ("started", "succeeded", "failed", "stopped"):
            raise ValueError(f"unknown event {data.get('kind')!r}")
        return cls(
            kind=data["kind"],
            assignment=str(data["assignment"]),
            job_id=int(data["job_id"]),
            seconds=float(data.get("seconds", 0.0)),
            images=images,
            recorded=str(data.get("recorded", "")),
            told=str(data.get("told", "")),
            told_template=str(data.get("told_template", "")),
            told_values=tuple((str(k), str(v)) for k, v in data.get("told_values", ())),
        )


@dataclass(frozen=True, slots=True)
class StepReport:
    """Progress of the jobs of an assignment; ``preview`` is a small JPEG when one was asked for."""

    assignment: str
    job_ids: tuple[int, ...]
    step: int
    total: int
    preview: bytes | None = None

    def encode(self) -> bytes:
        preview = None if self.preview is None else base64.b64encode(self.preview).decode()
        return _dump([self.assignment, list(self.job_ids), self.step, self.total, preview])

    @classmethod
    def decode(cls, payload: bytes) -> StepReport:
        assignment, ids, step, total, preview = json.loads(payload)
        jpeg = None if preview is None else base64.b64decode(preview)
        return cls(str(assignment), tuple(int(i) for i in ids), int(step), int(total), jpeg)


@dataclass(frozen=True, slots=True)
class Control:
    """From the bot to one worker: stop these jobs, or render a preview of these."""

    cancel: tuple[int, ...] = field(default=())
    preview: tuple[int, ...] = field(default=())

    def encode(self) -> bytes:
        return _dump({"cancel": list(self.cancel), "preview": list(self.preview)})

    @classmethod
    def decode(cls, payload: bytes) -> Control:
        data = _load(payload)
        return cls(tuple(int(i) for i in data.get("cancel", ())), tuple(int(i) for i in data.get("preview", ())))
