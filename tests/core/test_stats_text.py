"""What `/stats` says: the numbers, the periods they cover, the wait, the refusals by reason
(most first) and the queue now, in all and from this server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from core.i18n import render
from core.stats_text import REASONS, QueueNow, duration, stats_text
from db.stats import RefusalReason, ServerStats, Window
from jobs.model import ActiveJob
from prompt.options import ImagineOptions, PromptLimits
from prompt.request import build_request
from tests.support.rules import ORDINARY

GUILD, OTHER = 10**17 + 2, 10**17 + 20
WINDOW = Window.ending(datetime(2025, 3, 10, 12, 0, tzinfo=UTC))


def _stats(**values: object) -> ServerStats:
    numbers: dict[str, object] = {
        "images_today": 3,
        "images_week": 12,
        "members_today": 2,
        "members_week": 5,
        "average_wait_s": 4.25,
        "started_week": 9,
        "refusals": ((RefusalReason.SEXUAL, 2), (RefusalReason.COOLDOWN, 1)),
    }
    return ServerStats(WINDOW, **{**numbers, **values})  # type: ignore[arg-type]


def _job(job_id: int, guild_id: int | None) -> ActiveJob:
    request = build_request(
        ImagineOptions(prompt="1girl"),
        limits=PromptLimits(),
        user_id=1,
        guild_id=guild_id,
        channel_id=3,
        rules=ORDINARY,
    )
    return ActiveJob(job_id, request, asyncio.get_running_loop().create_future())


def test_every_number_and_its_period() -> None:
    text = str(stats_text(_stats(), QueueNow(waiting=4, waiting_here=1, running=2, running_here=0)))
    assert text.splitlines() == [
        "**This server's numbers** (today: since 00:00 UTC; this week: the last 7 days)",
        "🖼️ Images made: **3** today, **12** this week",
        "👥 Members served: **2** today, **5** this week",
        "⏱️ Average wait before a job started: **4.2 s** (over 9 job(s) this week)",
        "🚫 Refusals this week: **3**",
        "  • sexual content where the channel does not allow it: 2",
        "  • the cooldown between requests: 1",
        "⏳ Queue now: **4** waiting (1 from this server), **2** being made (0 from this server)",
    ]


def test_a_quiet_week() -> None:
    quiet = _stats(images_today=0, images_week=0, average_wait_s=None, started_week=0, refusals=())
    text = str(stats_text(quiet, QueueNow(0, 0, 0, 0)))
    assert "⏱️ Average wait: no job started this week" in text
    assert "🚫 Refusals this week: none" in text
    assert "Images made: **0** today, **0** this week" in text


@pytest.mark.parametrize(("seconds", "shown"), [(0.0, "0.0 s"), (59.9, "59.9 s"), (90.0, "1.5 min"), (5400.0, "1.5 h")])
def test_durations(seconds: float, shown: str) -> None:
    assert str(duration(seconds)) == shown


def test_every_reason_has_a_label() -> None:
    assert set(REASONS) == set(RefusalReason)


async def test_the_queue_now_counts_this_servers_jobs_apart() -> None:
    waiting = [_job(1, GUILD), _job(2, OTHER), _job(3, None), _job(4, GUILD)]
    running = [_job(5, OTHER)]
    assert QueueNow.of(waiting, running, GUILD) == QueueNow(waiting=4, waiting_here=2, running=1, running_here=0)


def test_an_unknown_locale_reads_english() -> None:
    text = stats_text(_stats(), QueueNow(0, 0, 0, 0))
    assert render(text, "en-US") == str(text)


@pytest.mark.parametrize(("locale", "header"), [("ja", "このサーバーの数値"), ("ko", "이 서버의 수치")])
def test_an_admin_reads_it_in_their_language(locale: str, header: str) -> None:
    text = render(stats_text(_stats(), QueueNow(0, 0, 0, 0)), locale)
    assert header in text.splitlines()[0]
    assert "Images made" not in text
