from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_sessionmaker
from db.settings import SettingsStore
from prompt.user_defaults import UserDefaults

MINE = UserDefaults(aspect="1216x832", quality="Light v3.1", style="Anime", negative="blurry", private=True)


async def test_a_loaded_store_answers_from_memory_and_keeps_up_with_changes(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    first = SettingsStore(sessions)
    await first.put(1, MINE)
    await first.put(2, MINE)
    await first.reset(2)

    store = SettingsStore(sessions)  # the next start
    await store.load()
    assert await store.get(1) == MINE
    assert await store.get(2) == UserDefaults()
    assert await store.get(3) == UserDefaults()  # no row: the defaults, without reading
    await store.put(3, MINE)
    await store.reset(1)
    assert (await store.get(1), await store.get(3)) == (UserDefaults(), MINE)

    again = SettingsStore(sessions)
    await again.load()
    assert (await again.get(1), await again.get(3)) == (UserDefaults(), MINE)
