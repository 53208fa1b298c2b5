"""Members' /settings, one row each."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import upsert_insert
from db.models import UserSettings, utcnow
from prompt.user_defaults import UserDefaults

_COLUMNS = (UserSettings.aspect, UserSettings.quality, UserSettings.style, UserSettings.negative, UserSettings.private)


class SettingsStore:
    """Read on every /imagine and result button, so every member's settings are kept in memory,
    loaded once with ``load()`` (only members who changed a setting have a row: a few bytes
    each). This process is the only writer; a second bot process would need a shared
    invalidation, as the policy cache does."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._known: dict[int, UserDefaults] = {}
        self._loaded = False  # until load(), a member not in _known is read from the database

    async def load(self) -> None:
        async with self._sessions() as session:
            rows = (await session.execute(select(UserSettings.user_id, *_COLUMNS))).all()
        self._known = {row.user_id: UserDefaults(*row[1:]) for row in rows}
        self._loaded = True

    async def get(self, user_id: int) -> UserDefaults:
        known = self._known.get(user_id)
        if known is not None:
            return known
        if self._loaded:
            return UserDefaults()  # no row: the defaults, without a read per new member in a burst
        async with self._sessions() as session:
            row = (await session.execute(select(*_COLUMNS).where(UserSettings.user_id == user_id))).one_or_none()
        return UserDefaults() if row is None else UserDefaults(*row)

    async def put(self, user_id: int, defaults: UserDefaults) -> None:
        defaults.check()
        values = {
            "aspect": defaults.aspect,
            "quality": defaults.quality,
            "style": defaults.style,
            "negative": defaults.negative,
            "private": defaults.private,
            "updated_at": utcnow(),
        }
        async with self._sessions.begin() as session:
            insert = upsert_insert(session, UserSettings).values(user_id=user_id, **values)
            await session.execute(insert.on_conflict_do_update(index_elements=["user_id"], set_=values))
        self._known[user_id] = defaults

    async def reset(self, user_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(UserSettings).where(UserSettings.user_id == user_id))
        self._known.pop(user_id, None)
