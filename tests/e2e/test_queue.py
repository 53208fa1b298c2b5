"""Quotas, /cancel and durable jobs end to end: the real bot process, killed and restarted."""

from __future__ import annotations

import asyncio
import io
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image
from sqlalchemy import select

from db.engine import create_engine
from db.models import Job
from generation.metadata import parse_infotext, read_png_parameters
from jobs.model import JobStatus
from tests.e2e.answers import private_text
from tests.e2e.conftest import MANAGE_GUILD, World, running_world
from tests.fakediscord.state import Interaction, Message, User

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

DAILY = 3


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    quota = {"daily_images": DAILY, "max_active": 0, "cooldown_s": 0}
    async with running_world(request.param, tmp_path_factory.mktemp("bot"), fast_model_dir, quota=quota) as world:
        yield world


def member(world: World, name: str, permissions: int = 0) -> User:
    user = world.server.add_user(name)
    world.server.add_member(world.guild.id, user.id, permissions=permissions)
    return user


async def imagine(world: World, user: User, **options: Any) -> Interaction:
    return await world.server.invoke(user, world.general, "imagine", {"prompt": "1girl, smile", **options})


async def queued(world: World, user: User, **options: Any) -> Interaction:
    """An accepted /imagine: waits for the defer, so requests are queued in the order sent."""
    ix = await imagine(world, user, **options)
    assert (await ix.wait_response(timeout=3)).type == 5
    return ix


def has_image(ix: Interaction) -> bool:
    # Progress edits carry a JPEG preview; the result is the PNG.
    return ix.original is not None and any(a.filename.endswith(".png") for a in ix.original.attachments)


def says(text: str):  # type: ignore[no-untyped-def]
    return lambda ix: ix.original is not None and text in ix.original.text


def seed_of(png: bytes) -> str:
    return parse_infotext(read_png_parameters(png) or "")[2]["Seed"]


async def jobs_of(world: World, user: User) -> list[Any]:
    engine = create_engine(world.url_from_here)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(Job).where(Job.user_id == user.id).order_by(Job.id))).all())
    finally:
        await engine.dispose()


async def statuses(world: World, user: User, expected: list[JobStatus]) -> list[JobStatus]:
    """The user's job statuses once they reach ``expected`` (a job is recorded done just after
    its delivery), or what they are after 10 s."""
    found: list[JobStatus] = []
    for _ in range(200):
        found = [r.status for r in await jobs_of(world, user)]
        if found == expected:
            break
        await asyncio.sleep(0.05)
    return found


async def test_the_request_over_quota_is_refused_with_the_reason(world: World) -> None:
    carol = member(world, "carol")
    assert "Images left today: **3** of 3" in await private_text(
        await world.server.invoke(carol, world.general, "quota"), timeout=3
    )
    accepted = [await queued(world, carol, steps=1, seed=i) for i in range(DAILY)]
    refused = await imagine(world, carol, steps=1)
    text = await private_text(refused, timeout=3)
    assert "used all 3 of your images for today" in text and "resets <t:" in text
    for ix in accepted:
        await ix.wait_for(has_image, timeout=120)
    assert len(await jobs_of(world, carol)) == DAILY  # the refused one left no row
    status = await private_text(await world.server.invoke(carol, world.general, "quota"), timeout=3)
    assert "Images left today: **0** of 3" in status and "Queued or running: 0" in status


async def test_admins_set_quotas_and_block_members(world: World) -> None:
    admin = member(world, "quota-admin", permissions=MANAGE_GUILD)
    dan, eve = member(world, "dan"), member(world, "eve")
    denied = await world.server.invoke(dan, world.general, "quotas user", {"member": dan.id, "daily": 100})
    assert "Manage Server" in await private_text(denied, timeout=3)

    granted = await world.server.invoke(admin, world.general, "quotas user", {"member": dan.id, "daily": 5})
    assert "5/day" in await private_text(granted, timeout=3)
    assert "**5** of 5" in await private_text(await world.server.invoke(dan, world.general, "quota"), timeout=3)

    blocked = await world.server.invoke(admin, world.general, "quotas block", {"member": eve.id, "reason": "spam"})
    assert "can no longer generate" in await private_text(blocked, timeout=3)
    refused = await imagine(world, eve, steps=1)
    assert "blocked from generating images in this server" in await private_text(refused, timeout=3)
    assert "Reason: spam" in await private_text(await world.server.invoke(eve, world.general, "quota"), timeout=3)
    await private_text(await world.server.invoke(admin, world.general, "quotas unblock", {"member": eve.id}), timeout=3)
    allowed = await imagine(world, eve, steps=1)
    assert (await allowed.wait_response(timeout=3)).type == 5
    await allowed.wait_for(has_image, timeout=120)


async def test_cancel_a_queued_job_with_its_button_and_a_running_one_with_the_command(world: World) -> None:
    frank, grace = member(world, "frank"), member(world, "grace")
    running = await imagine(world, frank, steps=50, aspect="1024x1024", seed=1)
    await running.wait_for(says("Generating… step"), timeout=60)
    queued = await imagine(world, frank, steps=1, seed=2)
    await queued.wait_for(says("you are #1 in line"), timeout=30)
    assert queued.original is not None
    (custom_id,) = queued.original.custom_ids
    assert custom_id.startswith("job:cancel:")

    stranger = await world.server.click(grace, queued.original, custom_id)
    assert "Only the member who asked" in await private_text(stranger, timeout=3)
    click = await world.server.click(frank, queued.original, custom_id)
    assert "removed from the queue" in await private_text(click, timeout=3)
    await queued.wait_for(says("Cancelled"), timeout=30)

    command = await world.server.invoke(frank, world.general, "cancel")
    assert "stops at its next step" in await private_text(command, timeout=3)
    await running.wait_for(says("Cancelled"), timeout=60)
    assert not has_image(running) and not has_image(queued)
    cancelled = [JobStatus.CANCELLED, JobStatus.CANCELLED]
    assert await statuses(world, frank, cancelled) == cancelled
    status = await private_text(await world.server.invoke(frank, world.general, "quota"), timeout=3)
    assert "**3** of 3" in status  # both refunded


async def _restart(world: World, sig: signal.Signals) -> int:
    code = await world.bot.stop(sig)
    sessions = world.server.gateway.ready_count + 1
    await world.bot.start()
    await world.server.wait_until_ready(timeout=90, sessions=sessions)
    return code


async def test_a_killed_bot_delivers_every_queued_job_exactly_once_after_a_restart(world: World) -> None:
    heidi = member(world, "heidi")
    # The first is long enough to be mid-run when the process dies.
    jobs = [await queued(world, heidi, steps=40 if i == 0 else 6, aspect="1024x1024", seed=100 + i) for i in range(3)]
    await jobs[0].wait_for(says("Generating… step"), timeout=60)
    assert await _restart(world, signal.SIGKILL) == -signal.SIGKILL
    for ix in jobs:
        await ix.wait_for(has_image, timeout=180)
    for i, ix in enumerate(jobs):
        assert ix.original is not None
        (attachment,) = ix.original.attachments
        assert seed_of(attachment.data) == str(100 + i)
    assert await statuses(world, heidi, [JobStatus.DONE] * 3) == [JobStatus.DONE] * 3
    await asyncio.sleep(1)  # nothing else arrives later: no second delivery
    # Delivered through each interaction; no channel post duplicates any of them.
    stray = [
        m
        for m in world.server.channel_messages(world.general.id)
        if f"<@{heidi.id}>" in m.text and m.interaction_id is None
    ]
    assert stray == []
    assert "resuming 3 unfinished job(s)" in world.bot.output()


async def test_sigterm_keeps_jobs_queued_and_late_results_go_to_the_channel(world: World) -> None:
    ivan = member(world, "ivan")
    jobs = [await queued(world, ivan, steps=40 if i == 0 else 6, aspect="1024x1024", seed=200 + i) for i in range(2)]
    await jobs[0].wait_for(says("Generating… step"), timeout=60)
    code = await world.bot.stop(signal.SIGTERM)
    assert code == 0
    for ix in jobs:
        assert ix.original is not None and "restarting" in ix.original.text
    # Twenty minutes later: the interaction tokens are dead, so results come as channel messages.
    world.server.time_offset = 20 * 60
    try:
        sessions = world.server.gateway.ready_count + 1
        await world.bot.start()
        await world.server.wait_until_ready(timeout=90, sessions=sessions)
        posted = []
        for seed in ("200", "201"):

            def result_for(message: Message, seed: str = seed) -> bool:
                mentioned = f"<@{ivan.id}>" in message.text
                return mentioned and bool(message.attachments) and seed_of(message.attachments[0].data) == seed

            posted.append(await world.server.wait_for_message(result_for, timeout=180))
    finally:
        world.server.time_offset = 0
    for message in posted:
        assert message.channel_id == world.general.id and message.interaction_id is None
        with Image.open(io.BytesIO(message.attachments[0].data)) as image:
            assert image.size == (1024, 1024)
    assert await statuses(world, ivan, [JobStatus.DONE] * 2) == [JobStatus.DONE] * 2
