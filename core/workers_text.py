"""What `/workers` shows: each GPU worker's name, GPU, state, current job, images done, speed
and when it was last heard from."""

from __future__ import annotations

from collections.abc import Sequence

from jobs.backend import WorkerStatus

STATE_MARKS = {"ready": "🟢", "busy": "🟡", "loading": "⏳", "failed": "🔴", "stalled": "🟠", "gone": "⚫"}
NONE_YET = (
    "No GPU worker has connected yet. Start one with `python bot.py worker --config worker.toml` "
    "(README: More than one GPU); queued jobs wait for it."
)


def _ago(seconds: float) -> str:
    if seconds < 2:
        return "now"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    return f"{seconds / 60:.0f} min ago"


def worker_line(status: WorkerStatus) -> str:
    mark = STATE_MARKS.get(status.state, "•")
    job = f"job {', '.join(f'#{i}' for i in status.jobs)}" if status.jobs else "no job"
    speed = f"{status.seconds_per_image:.1f} s/image" if status.seconds_per_image is not None else "speed after warm-up"
    line = (
        f"{mark} **{status.name}** · {status.gpu} · {status.state} · {job} · "
        f"{status.images_done} image(s) · {speed} · seen {_ago(status.last_seen_s)}"
    )
    return f"{line}\n  ↳ {status.error}" if status.error else line


def workers_text(statuses: Sequence[WorkerStatus]) -> str:
    if not statuses:
        return NONE_YET
    online = sum(1 for s in statuses if s.state not in ("gone", "failed"))
    header = f"**GPU workers:** {online} of {len(statuses)} online"
    return "\n".join([header, *(worker_line(s) for s in statuses)])[:1990]
