"""[discord] shard_count end to end: the real bot process runs its gateway shards in one process
(AutoShardedBot) against the local Discord, which routes each guild's events to its own shard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.conftest import World, running_world
from tests.fakediscord import Channel

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

IDENTIFY = 2

# (configured shard_count, what GET /gateway/bot recommends, the shards expected)
CASES = {
    "configured": (2, 3, 2),  # a configured count wins over Discord's recommendation
    "recommended": (0, 2, 2),  # 0 = as many as Discord recommends
}


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=list(CASES))
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    configured, recommended, _ = CASES[request.param]
    async with running_world(
        "sqlite",
        tmp_path_factory.mktemp("sharded-bot"),
        fast_model_dir,
        recommended_shards=recommended,
        discord={"shard_count": configured},
    ) as world:
        yield world


@pytest.fixture
def case(request: pytest.FixtureRequest, world: World) -> tuple[int, int, int]:
    return CASES[request.node.callspec.params["world"]]


async def _all_shards_ready(world: World, shards: int) -> None:
    # discord.py identifies one shard at a time, 5 s apart (Discord's identify rate limit).
    await world.server.wait_until_ready(timeout=90, sessions=shards)


async def test_each_shard_identifies_once(world: World, case: tuple[int, int, int]) -> None:
    configured, _, shards = case
    await _all_shards_ready(world, shards)
    identified = sorted(d["shard"] for op, d in world.server.gateway.received if op == IDENTIFY)
    assert identified == [[n, shards] for n in range(shards)]
    asked = [path for method, path, _ in world.server.requests if path.endswith("/gateway/bot")]
    # Discord is asked for its recommendation only when the config leaves the count to it.
    assert bool(asked) == (configured == 0)


async def test_every_shard_answers_its_own_guilds(world: World, case: tuple[int, int, int]) -> None:
    _, _, shards = case
    await _all_shards_ready(world, shards)
    server = world.server
    channels: dict[int, Channel] = {}
    for shard in range(shards):
        # A guild owned by each shard, joined while the bot runs (GUILD_CREATE on that shard).
        guild = server.add_guild(f"guild on shard {shard}", shard=(shard, shards))
        channels[shard] = server.add_channel(guild.id, "general")
        server.add_member(guild.id, world.alice.id)
        await server.join_guild(guild)
    for shard, channel in channels.items():
        ix = await server.invoke(world.alice, channel, "help")
        response = await ix.wait_response(timeout=10)
        assert response.type == 4, shard
        # Answered once: an event that reached two shards would be answered twice (40060).
        assert len(ix.responses) == 1 and not ix.rejected, shard

    # A job asked on the last shard is generated and delivered like any other.
    ix = await server.invoke(world.alice, channels[shards - 1], "imagine", {"prompt": "1girl", "steps": 1})
    await ix.wait_for(
        lambda i: i.original is not None and any(a.filename.endswith(".png") for a in i.original.attachments),
        timeout=60,
    )
