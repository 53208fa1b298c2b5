from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine, create_sessionmaker
from db.jobs import JobStore
from db.migrate import upgrade_to_head
from jobs.model import JobStatus, Place
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.request import build_request
from tests.support.rules import ORDINARY

PLACE = Place(
    user_id=10**17 + 1,
    user_name="alice",
    guild_id=10**17 + 2,
    guild_name="g",
    channel_id=10**17 + 3,
    channel_nsfw=False,
)


def _request(prompt: str = "1girl, smile"):
    return build_request(
        ImagineOptions(prompt=prompt, seed=42, steps=4),
        limits=PromptLimits(),
        user_id=PLACE.user_id,
        guild_id=PLACE.guild_id,
        channel_id=PLACE.channel_id,
        rules=ORDINARY,
    )


async def test_migrations_create_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert {"users", "guilds", "channels", "jobs"} <= tables
    assert {"guild_policies", "channel_policies", "blocked_tags", "audit_log"} <= tables
    assert {"quota_usage", "quota_limits", "generation_blocks"} <= tables
    assert "user_settings" in tables
    assert "source_images" in tables
    assert version == "0008"


async def test_migrations_are_idempotent(engine: AsyncEngine) -> None:
    await upgrade_to_head(engine)  # second start-up: nothing to do, no error


async def test_job_lifecycle_is_recorded(engine: AsyncEngine) -> None:
    store = JobStore(create_sessionmaker(engine))
    request = _request()
    job_id = await store.create(request, PLACE, interaction_id=5, interaction_token="tok")
    record = await store.get(job_id)
    assert record is not None
    assert record.status is JobStatus.QUEUED
    assert record.request == request
    assert record.started_at is None

    await store.mark_running(job_id)
    assert (await store.get(job_id)).status is JobStatus.RUNNING  # type: ignore[union-attr]
    await store.mark_done(job_id, 1.25)
    record = await store.get(job_id)
    assert record is not None
    assert record.status is JobStatus.DONE
    assert record.seconds == 1.25
    assert record.started_at is not None and record.finished_at is not None
    assert record.finished_at >= record.started_at >= record.created_at.replace(tzinfo=record.started_at.tzinfo)


async def test_failed_and_listing_by_status(engine: AsyncEngine) -> None:
    store = JobStore(create_sessionmaker(engine))
    first = await store.create(_request("a"), PLACE)
    second = await store.create(_request("b"), PLACE)
    await store.mark_failed(first, "boom")
    queued = await store.by_status(JobStatus.QUEUED)
    failed = await store.by_status(JobStatus.FAILED)
    assert [r.id for r in queued] == [second]
    assert [(r.id, r.error) for r in failed] == [(first, "boom")]


async def test_concurrent_first_requests_upsert_the_same_user(engine: AsyncEngine) -> None:
    store = JobStore(create_sessionmaker(engine))
    ids = await asyncio.gather(*(store.create(_request(f"tag{i}"), PLACE) for i in range(8)))
    assert len(set(ids)) == 8


async def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/deep/er/bot.db")
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    assert (tmp_path / "deep/er/bot.db").is_file()


async def test_a_remix_keeps_its_source_image_with_the_job(engine: AsyncEngine) -> None:
    store = JobStore(create_sessionmaker(engine))
    png = b"\x89PNG fitted source"
    remix = dataclasses.replace(_request(), source="d" * 64, strength=0.55)
    first = await store.create(remix, PLACE, source_png=png)
    again = await store.create(remix, PLACE, source_png=png)  # a Re-roll: the same bytes, kept once
    plain = await store.create(_request(), PLACE)
    unfinished = {job.id: job for job in await store.unfinished()}
    assert unfinished[first].source_png == png and unfinished[again].source_png == png
    assert unfinished[first].request.source == "d" * 64
    assert unfinished[plain].source_png is None
    assert await store.load_source("d" * 64) == png
    assert await store.load_source("e" * 64) is None
    async with engine.connect() as conn:
        kept = (await conn.execute(text("SELECT COUNT(*) FROM source_images"))).scalar_one()
    assert kept == 1


async def test_a_private_job_is_remembered_as_private_for_a_restart(engine: AsyncEngine) -> None:
    store = JobStore(create_sessionmaker(engine))
    private = await store.create(_request(), PLACE, private=True)
    public = await store.create(_request(), PLACE)
    unfinished = {job.id: job for job in await store.unfinished()}
    assert unfinished[private].private and not unfinished[public].private


async def test_a_job_remembers_the_members_locale_for_a_restart(engine: AsyncEngine) -> None:
    store = JobStore(create_sessionmaker(engine))
    japanese = await store.create(_request(), PLACE, locale="ja")
    unknown = await store.create(_request(), PLACE)
    unfinished = {job.id: job for job in await store.unfinished()}
    assert (unfinished[japanese].locale, unfinished[unknown].locale) == ("ja", "en-US")
