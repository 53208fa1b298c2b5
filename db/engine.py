"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run while the worker writes; busy_timeout makes concurrent writers
    # wait for the lock instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """Create the async engine; for SQLite the database's folder is created as needed."""
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, pool_pre_ping=path is None)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    return engine


class _TurnTakingSessions(async_sessionmaker[AsyncSession]):
    """SQLite has one writer at a time. Its writing transactions (``begin()``) take turns on an
    asyncio lock instead of polling the file lock (``busy_timeout`` sleeps between tries), which
    halves the time a burst of requests takes to be recorded; reads (``sessions()``) run freely
    alongside, as WAL allows."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._writer = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        async with self._writer, super().begin() as session:
            yield session


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    if engine.dialect.name == "sqlite":
        return _TurnTakingSessions(engine)
    return async_sessionmaker(engine, expire_on_commit=False)


def upsert_insert(session: AsyncSession, table: type[Any] | Table) -> PgInsert | SqliteInsert:
    """An INSERT that supports ON CONFLICT on both backends (their dialects spell it alike)."""
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)
