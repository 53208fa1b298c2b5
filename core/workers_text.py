"""What `/workers` shows: each GPU worker's name, GPU, state, current job, images done, speed
and when it was last heard from."""

from __future__ import annotations

from collections.abc import Sequence

from core.i18n import render
from core.text import Message, t
from jobs.backend import WorkerStatus

STATE_MARKS = {"ready": "🟢", "busy": "🟡", "loading": "⏳", "failed": "🔴", "stalled": "🟠", "gone": "⚫"}
NONE_YET_TEXT = t(
    "No GPU worker has connected yet. Start one with `python bot.py worker --config worker.toml` "
    "(README: More than one GPU); queued jobs wait for it."
)
NONE_YET = str(NONE_YET_TEXT)


def _ago(seconds: float) -> Message:
    if seconds < 2:
        return t("now")
    if seconds < 120:
        return t("{seconds} s ago", seconds=f"{seconds:.0f}")
    return t("{minutes} min ago", minutes=f"{seconds / 60:.0f}")


def worker_line(status: WorkerStatus, locale: object = "en-US") -> str:
    """One worker; its name, GPU and state as the worker reports them."""
    mark = STATE_MARKS.get(status.state, "•")
    job: Message = t("job {ids}", ids=", ".join(f"#{i}" for i in status.jobs)) if status.jobs else t("no job")
    speed: Message = (
        t("{seconds} s/image", seconds=f"{status.seconds_per_image:.1f}")
        if status.seconds_per_image is not None
        else t("speed after warm-up")
    )
    line = render(
        # i18n: {state} stays in English (ready, busy, loading...): it is what the worker reports.
        t(
            "{mark} **{name}** · {gpu} · {state} · {job} · {images} image(s) · {speed} · seen {ago}",
            mark=mark,
            name=status.name,
            gpu=status.gpu,
            state=status.state,
            job=job,
            images=status.images_done,
            speed=speed,
            ago=_ago(status.last_seen_s),
        ),
        locale,
    )
    return f"{line}\n  ↳ {status.error}" if status.error else line


def workers_text(statuses: Sequence[WorkerStatus], locale: object = "en-US") -> str:
    if not statuses:
        return render(NONE_YET_TEXT, locale)
    online = sum(1 for s in statuses if s.state not in ("gone", "failed"))
    header = render(t("**GPU workers:** {online} of {total} online", online=online, total=len(statuses)), locale)
    return "\n".join([header, *(worker_line(s, locale) for s in statuses)])[:1990]
