"""Which way a job's result travels: through the interaction while its token is young, to the
channel once it is ~14 minutes old or Discord says it is dead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import discord
import pytest

from core.messenger import status_text
from core.replies import StoredReply, TokenGone, is_dead_token, token_alive


def _snowflake(moment: datetime) -> int:
    return discord.utils.time_snowflake(moment)


class _Client:
    application_id = 1234


def _stored(age: timedelta, token: str | None = "tok") -> StoredReply:
    created = datetime.now(UTC) - age
    return StoredReply(
        cast(discord.Client, _Client()), interaction_id=_snowflake(created), token=token, channel_id=1, user_id=2
    )


@pytest.mark.parametrize(
    ("age", "alive"),
    [
        (timedelta(seconds=5), True),
        (timedelta(minutes=13, seconds=50), True),
        (timedelta(minutes=14, seconds=1), False),
        (timedelta(hours=3), False),
    ],
)
def test_a_restored_jobs_token_age_comes_from_its_interaction_id(age: timedelta, alive: bool) -> None:
    assert token_alive(_stored(age)) is alive


def test_a_restored_job_speaks_the_locale_stored_with_it() -> None:
    assert _stored(timedelta(seconds=1)).locale == "en-US"
    client = cast(discord.Client, _Client())
    assert StoredReply(client, interaction_id=None, token=None, channel_id=1, user_id=2, locale="ja").locale == "ja"


def test_a_job_without_a_token_goes_to_the_channel() -> None:
    assert not token_alive(_stored(timedelta(seconds=1), token=None))


async def test_without_a_token_editing_raises_token_gone() -> None:
    with pytest.raises(TokenGone):
        await _stored(timedelta(seconds=1), token=None).edit_original(content="x")


class _Response:
    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "x"


@pytest.mark.parametrize(
    ("status", "code", "dead"),
    [(401, 50027, True), (404, 10015, True), (500, 0, False), (429, 0, False), (403, 50013, False)],
)
def test_dead_token_answers(status: int, code: int, dead: bool) -> None:
    exc = discord.HTTPException(cast(Any, _Response(status)), {"code": code, "message": "m"})
    assert is_dead_token(exc) is dead


def test_queued_status_shows_position_and_estimated_wait() -> None:
    job = cast(Any, type("J", (), {"progress": None, "started_at": None})())
    assert status_text(3, job) == "⏳ Queued: you are #3 in line (2 images ahead of yours)."
    assert status_text(2, job, 40.2).endswith("· about 40 s to wait.")
    assert status_text(2, job, 38.9).endswith("· about 40 s to wait.")  # coarse: fewer edits
    assert status_text(2, job, 1.0).endswith("· about 5 s to wait.")
    assert status_text(2, job, 600).endswith("· about 10 min to wait.")
    assert status_text(0, job) == "🎨 Starting…"
