"""Shared fixtures: tiny random-weight SDXL pipelines and databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import os

# Tests never reach the Hub; huggingface_hub reads this once, at import.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine
from db.migrate import upgrade_to_head
from prompt.tags import TagDatabase
from tests.support.tiny_sdxl import save_tiny_sdxl

# Trust auth on the local server (see the README); CI and developer machines both have it.
POSTGRES_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def tag_db() -> TagDatabase:
    """The vendored Danbooru tag data, loaded once (about half a second)."""
    return TagDatabase.load()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SDXL pipeline (attention blocks included) in the diffusers folder layout."""
    return save_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl", attention=True)


@pytest.fixture(scope="session")
def fast_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SDXL pipeline without attention blocks: full-size images in seconds on a CPU."""
    return save_tiny_sdxl(tmp_path_factory.mktemp("models") / "fast-sdxl", attention=False)


async def create_postgres_database() -> str:
    """Create an empty, uniquely named database; return its SQLAlchemy async URL."""
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database URL, once for SQLite and once for the local PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/sub/bot.db"
        return
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on each backend."""
    engine = create_engine(database_url)
    await upgrade_to_head(engine)
    try:
        yield engine
    finally:
        await engine.dispose()
