from __future__ import annotations

import pytest

from generation.tags import TagDatabase


@pytest.fixture(scope="session")
def tag_db() -> TagDatabase:
    """The vendored Danbooru tag data, loaded once (about half a second)."""
    return TagDatabase.load()
