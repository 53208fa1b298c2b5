"""What a job's message says while it waits and runs, and the notices that may replace it:
English templates (``core.text.t``) rendered in the member's locale (``reply.locale``)."""

from __future__ import annotations

import time

from core.i18n import render
from core.text import Message, t
from jobs.model import ActiveJob
from moderation.output_check import DeliveryPlan, Withheld

FORCED_PRIVATE_NOTE_TEXT = t(
    "🔒 Only you can see this: this server does not let members' apps post here. "
    "📩 sends the image to your DMs, to keep or share."
)
NOT_COUNTED = t("Nothing was counted against your quota.")
RESTARTING_TEXT = t("⏸️ The bot is restarting. Your job is saved and will continue as soon as it is back.")
CANCELLED_TEXT = t("🚫 Cancelled. Nothing was counted against your quota.")
# The English renderings, as logs and tests read them.
FORCED_PRIVATE_NOTE, RESTARTING, CANCELLED = map(str, (FORCED_PRIVATE_NOTE_TEXT, RESTARTING_TEXT, CANCELLED_TEXT))


def _duration(seconds: float) -> Message:
    # Coarse on purpose: a text that changes every second would cost a message edit each interval.
    if seconds < 60:
        return t("{seconds} s", seconds=max(5, round(seconds / 5) * 5))
    return t("{minutes} min", minutes=max(1, round(seconds / 60)))


def status_text(position: int | None, job: ActiveJob, wait_s: float | None = None, locale: object = "en-US") -> str:
    """The queued / progress line, in the member's locale."""
    return render(_status(position, job, wait_s), locale)


def _status(position: int | None, job: ActiveJob, wait_s: float | None) -> Message:
    if job.progress is not None and job.started_at is not None:
        elapsed = time.monotonic() - job.started_at
        step, total = job.progress.step, job.progress.total
        eta = elapsed / step * (total - step) if step else 0.0
        return t(
            "🎨 Generating… step {step}/{total} · {elapsed} s elapsed · about {left} s left",
            step=step,
            total=total,
            elapsed=f"{elapsed:.0f}",
            left=f"{eta:.0f}",
        )
    if position is None or position == 0:
        return t("🎨 Starting…")
    ahead = position - 1
    if wait_s is None:
        if ahead == 1:
            return t("⏳ Queued: you are #{position} in line (1 image ahead of yours).", position=position)
        return t(
            "⏳ Queued: you are #{position} in line ({ahead} images ahead of yours).", position=position, ahead=ahead
        )
    wait = _duration(wait_s)
    if ahead == 1:
        return t(
            "⏳ Queued: you are #{position} in line (1 image ahead of yours) · about {wait} to wait.",
            position=position,
            wait=wait,
        )
    return t(
        "⏳ Queued: you are #{position} in line ({ahead} images ahead of yours) · about {wait} to wait.",
        position=position,
        ahead=ahead,
        wait=wait,
    )


def withheld_notice(plan: DeliveryPlan, locale: object = "en-US") -> str:
    """The member's explanation of the images the output check withheld ("" when none were):
    those above the channel's limit, and those the minor rule withheld (in any channel)."""
    over = [image for image in plan.withheld if image.minor is None]
    minors = len(plan.withheld) - len(over)
    parts = [_over_limit(over, plan)] if over else []
    if minors == 1:
        parts.append(
            t(
                "1 of your images was withheld: the output check found sexual content with a minor-coded "
                "character, which is never allowed in any channel."
            )
        )
    elif minors:
        parts.append(
            t(
                "{count} of your images were withheld: the output check found sexual content with a minor-coded "
                "character, which is never allowed in any channel.",
                count=minors,
            )
        )
    return " ".join(render(part, locale) for part in parts)


def _over_limit(over: list[Withheld], plan: DeliveryPlan) -> Message:
    count = len(over)
    ratings = ", ".join(f"`{image.rating.label}`" for image in over)  # rating names stay as typed
    limit = f"`{plan.limit.label}`"
    if count == 1:
        return t(
            "1 of your images was withheld: the output check rated it {ratings}, above this channel's limit "
            "({limit}). Try other tags or an age-restricted channel.",
            ratings=ratings,
            limit=limit,
        )
    return t(
        "{count} of your images were withheld: the output check rated them {ratings}, above this channel's "
        "limit ({limit}). Try other tags or an age-restricted channel.",
        count=count,
        ratings=ratings,
        limit=limit,
    )
