from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.harness import BotProcess, write_config
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import Channel, Guild, User

MANAGE_GUILD = 1 << 5


@dataclass
class World:
    """The local Discord: one guild, an ordinary, an age-restricted and a mod-log channel,
    two members and a moderator (Manage Server)."""

    server: FakeDiscord
    bot: BotProcess
    guild: Guild
    general: Channel
    nsfw: Channel
    modlog: Channel
    alice: User
    bob: User
    mod: User
    database_url: str

    @property
    def url_from_here(self) -> str:
        """The bot's database URL as this process reaches it: a SQLite path is relative to the
        bot's folder (the admin's default layout)."""
        if not self.database_url.startswith("sqlite"):
            return self.database_url
        return self.database_url.replace("///data/", f"///{self.bot.config.parent}/data/")

    async def restart_bot(self) -> None:
        assert await self.bot.stop() == 0, self.bot.output()[-3000:]
        sessions = self.server.gateway.ready_count + 1
        await self.bot.start()
        await self.server.wait_until_ready(timeout=90, sessions=sessions)


@contextlib.asynccontextmanager
async def running_world(
    backend: str, workdir: Path, model: Path, *, recommended_shards: int = 1, **sections: dict[str, Any]
) -> AsyncIterator[World]:
    """Start the local Discord and the real bot process (`python bot.py --config ...`);
    `recommended_shards` is what the local Discord's GET /gateway/bot recommends."""
    if backend == "sqlite":
        database_url = "sqlite+aiosqlite:///data/bot.db"  # relative: the admin's default layout
    else:
        database_url = await create_postgres_database()
    server = FakeDiscord(recommended_shards=recommended_shards)
    await server.start()
    guild = server.add_guild("Test Guild")
    general = server.add_channel(guild.id, "general")
    nsfw = server.add_channel(guild.id, "after-dark", nsfw=True)
    modlog = server.add_channel(guild.id, "mod-log")
    alice, bob, mod = server.add_user("alice"), server.add_user("bob"), server.add_user("mod")
    server.add_member(guild.id, alice.id)
    server.add_member(guild.id, bob.id)
    server.add_member(guild.id, mod.id, permissions=MANAGE_GUILD)
    generation = {"max_prompt_chars": 300, **sections.pop("generation", {})}
    # Tests fire requests back to back; the quota tests turn limits on where they test them.
    quota = {"daily_images": 0, "max_active": 0, "cooldown_s": 0, **sections.pop("quota", {})}
    config = write_config(
        workdir / "config.toml",
        server,
        model=model,
        database_url=database_url,
        generation=generation,
        quota=quota,
        **sections,
    )
    bot = BotProcess(config=config, log=workdir / "bot.log")
    await bot.start()
    returncode = 0
    try:
        await server.wait_until_ready(timeout=90)
        await server.wait_for(lambda: server.commands(), timeout=30)
        yield World(server, bot, guild, general, nsfw, modlog, alice, bob, mod, database_url)
    except BaseException:
        print(bot.output()[-5000:])
        raise
    finally:
        returncode = await bot.stop()
        await server.stop()
        if backend == "postgresql":
            await drop_postgres_database(database_url)
        print(f"--- bot log tail ({backend}) ---\n" + bot.output()[-3000:])
    # SIGTERM is a clean shutdown, not a crash.
    assert returncode == 0, bot.output()[-3000:]


# One bot process per module and backend: the tests of a module share it, so they all run
# on the module's event loop (see pytestmark in the test modules).
@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    async with running_world(request.param, tmp_path_factory.mktemp("bot"), fast_model_dir) as world:
        yield world


@pytest.fixture(autouse=True)
def no_protocol_errors(world: World):  # type: ignore[no-untyped-def]
    """Every test ends with no body that failed Discord's OpenAPI schema and no unknown route."""
    yield
    errors, unhandled = list(world.server.validation_errors), list(world.server.unhandled)
    world.server.validation_errors.clear()
    world.server.unhandled.clear()
    assert errors == []
    assert unhandled == []
