"""Many members at once, end to end: every interaction is answered within Discord's 3 s (the
local Discord refuses a later answer), every accepted request is recorded once, and a refusal
answered after the "thinking" message leaves nothing public behind. (How fast: bench/burst.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from db.engine import create_engine
from db.models import Job
from tests.e2e.conftest import World
from tests.fakediscord.state import Interaction, Message, User

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

DEFERRED, EPHEMERAL = 5, 64
REFUSED_PROMPT = "1girl, nude"  # refused by the content filter in an ordinary channel


def members(world: World, name: str, count: int) -> list[User]:
    users = [world.server.add_user(f"{name}-{i}") for i in range(count)]
    for user in users:
        world.server.add_member(world.guild.id, user.id)
    return users


async def answered(ixs: list[Interaction]) -> None:
    """Every interaction got its first answer, none too late (the fake records a late one as
    rejected), and each deferred one went on to a status, an image, or a private refusal."""

    def settled(ix: Interaction) -> bool:
        if not ix.responses:
            return False
        if ix.responses[0].type != DEFERRED:
            return True
        if ix.original is not None and ix.original.deleted:
            return bool(ix.followups)  # the private refusal follows the deleted "thinking" message
        return ix.original is not None and not ix.original.loading

    await asyncio.gather(*(ix.wait_for(settled, timeout=30) for ix in ixs))
    assert [ix.rejected for ix in ixs if ix.rejected] == []
    assert all(ix.responses[0].received_after <= 3.0 for ix in ixs)


def told_privately(ix: Interaction) -> str:
    """The refusal's text, checking that only the member saw it."""
    first = ix.responses[0]
    if first.type != DEFERRED:
        assert first.data is not None and first.data.get("flags", 0) & EPHEMERAL, first
        return str(first.data["content"])
    assert ix.original is not None and ix.original.deleted, ix.dump()
    (followup,) = ix.followups
    assert followup.ephemeral, ix.dump()
    return followup.content


async def jobs_of(world: World, ixs: list[Interaction]) -> int:
    engine = create_engine(world.url_from_here)
    try:
        async with engine.connect() as conn:
            ids = [ix.id for ix in ixs]
            return int(await conn.scalar(select(func.count()).select_from(Job).where(Job.interaction_id.in_(ids))) or 0)
    finally:
        await engine.dispose()


async def imagine_all(world: World, users: list[User], prompt: str, **options: Any) -> list[Interaction]:
    return list(
        await asyncio.gather(
            *(world.server.invoke(u, world.general, "imagine", {"prompt": prompt, **options}) for u in users)
        )
    )


def public_messages(world: World) -> list[Message]:
    return [m for m in world.server.channel_messages(world.general.id) if not m.ephemeral and not m.deleted]


async def test_forty_members_at_once_are_all_answered_and_recorded_once(world: World) -> None:
    ixs = await imagine_all(world, members(world, "crowd", 40), "1girl, smile", steps=1)
    await answered(ixs)
    assert all(ix.responses[0].type == DEFERRED for ix in ixs)
    assert await jobs_of(world, ixs) == 40


async def test_refusals_in_a_burst_are_private_and_leave_nothing_in_the_channel(world: World) -> None:
    refused = members(world, "rude", 12)
    fine = members(world, "fine", 12)
    ixs = await asyncio.gather(
        imagine_all(world, refused, REFUSED_PROMPT, steps=1), imagine_all(world, fine, "1girl, smile", steps=1)
    )
    refused_ixs, fine_ixs = ixs
    await answered([*refused_ixs, *fine_ixs])
    for ix in refused_ixs:
        assert "does not allow sexual content" in told_privately(ix)
    assert await jobs_of(world, refused_ixs) == 0
    assert await jobs_of(world, fine_ixs) == 12
    assert not [m for m in public_messages(world) if "nude" in m.content or "sexual" in m.content]


async def test_a_burst_of_reroll_clicks_on_one_result_is_answered_and_recorded(world: World) -> None:
    (author,) = members(world, "author", 1)
    first = await world.server.invoke(author, world.general, "imagine", {"prompt": "1girl, smile", "steps": 1})
    await first.wait_for(
        lambda ix: ix.original is not None and any(a.filename.endswith(".png") for a in ix.original.attachments),
        timeout=180,
    )
    assert first.original is not None
    reroll = next(c for c in first.original.custom_ids if ":reroll:" in c)
    clicks = list(
        await asyncio.gather(*(world.server.click(u, first.original, reroll) for u in members(world, "fan", 25)))
    )
    await answered(clicks)
    assert await jobs_of(world, clicks) == 25
