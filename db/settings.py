"""Members' /settings, one row each."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.engine import upsert_insert
from db.models import UserSettings, utcnow
from prompt.user_defaults import UserDefaults


class SettingsStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, user_id: int) -> UserDefaults:
        async with self._sessions() as session:
            row = await session.get(UserSettings, user_id)
        if row is None:
            return UserDefaults()
        return UserDefaults(
            aspect=row.aspect, quality=row.quality, style=row.style, negative=row.negative, private=row.private
        )

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

    async def reset(self, user_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(UserSettings).where(UserSettings.user_id == user_id))
