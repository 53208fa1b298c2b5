from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.harness import BotProcess, write_config
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import Channel, Guild, User


@dataclass
class World:
    """The local Discord with one guild, an ordinary and an age-restricted channel, two members."""

    server: FakeDiscord
    bot: BotProcess
    guild: Guild
    general: Channel
    nsfw: Channel
    alice: User
    bob: User
    database_url: str


# One bot process per module and backend: the tests of a module share it, so they all run
# on the module's event loop (see pytestmark in the test modules).
@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    workdir = tmp_path_factory.mktemp("bot")
    if request.param == "sqlite":
        database_url = "sqlite+aiosqlite:///data/bot.db"  # relative: the admin's default layout
    else:
        database_url = await create_postgres_database()
    server = FakeDiscord()
    await server.start()
    guild = server.add_guild("Test Guild")
    general = server.add_channel(guild.id, "general")
    nsfw = server.add_channel(guild.id, "after-dark", nsfw=True)
    alice, bob = server.add_user("alice"), server.add_user("bob")
    server.add_member(guild.id, alice.id)
    server.add_member(guild.id, bob.id)
    config = write_config(
        workdir / "config.toml",
        server,
        model=fast_model_dir,
        database_url=database_url,
        generation={"max_prompt_chars": 300},
    )
    bot = BotProcess(config=config, log=workdir / "bot.log")
    await bot.start()
    try:
        await server.wait_until_ready(timeout=90)
        await server.wait_for(lambda: server.commands(), timeout=30)
        yield World(server, bot, guild, general, nsfw, alice, bob, database_url)
    except BaseException:
        print(bot.output()[-5000:])
        raise
    finally:
        returncode = await bot.stop()
        await server.stop()
        if request.param == "postgresql":
            await drop_postgres_database(database_url)
        print(f"--- bot log tail ({request.param}) ---\n" + bot.output()[-3000:])
    # SIGTERM is a clean shutdown, not a crash.
    assert returncode == 0, bot.output()[-3000:]


@pytest.fixture(autouse=True)
def no_protocol_errors(world: World):  # type: ignore[no-untyped-def]
    """Every test ends with no body that failed Discord's OpenAPI schema and no unknown route."""
    yield
    errors, unhandled = list(world.server.validation_errors), list(world.server.unhandled)
    world.server.validation_errors.clear()
    world.server.unhandled.clear()
    assert errors == []
    assert unhandled == []
