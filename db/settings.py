"""Members' /settings, one row each."""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import upsert_insert
from db.models import UserSettings, utcnow
from prompt.user_defaults import UserDefaults

CACHED_MEMBERS = 10_000
_COLUMNS = (UserSettings.aspect, UserSettings.quality, UserSettings.style, UserSettings.negative, UserSettings.private)


class SettingsStore:
    """Read on every /imagine, so the members seen last are kept in memory (this process is the
    only writer; a second bot process would need a shared invalidation, as the policy cache)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cache: OrderedDict[int, UserDefaults] = OrderedDict()

    def _remember(self, user_id: int, defaults: UserDefaults) -> None:
        self._cache[user_id] = defaults
        self._cache.move_to_end(user_id)
        while len(self._cache) > CACHED_MEMBERS:
            self._cache.popitem(last=False)

    async def get(self, user_id: int) -> UserDefaults:
        cached = self._cache.get(user_id)
        if cached is not None:
            self._cache.move_to_end(user_id)
            return cached
        async with self._sessions() as session:
            row = (await session.execute(select(*_COLUMNS).where(UserSettings.user_id == user_id))).one_or_none()
        # A plain row, not an ORM object: this runs for every member new to this process.
        defaults = UserDefaults() if row is None else UserDefaults(**row._asdict())
        self._remember(user_id, defaults)
        return defaults

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
        self._remember(user_id, defaults)

    async def reset(self, user_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(UserSettings).where(UserSettings.user_id == user_id))
        self._remember(user_id, UserDefaults())
