from __future__ import annotations

import pytest

from generation.tags import TagDatabase
from moderation.content import ContentFilter


@pytest.fixture(scope="session")
def tag_db() -> TagDatabase:
    """The vendored Danbooru tag data, loaded once (about half a second)."""
    return TagDatabase.load()


@pytest.fixture(scope="session")
def content_filter(tag_db: TagDatabase) -> ContentFilter:
    """The content filter with the repository's lists, built once."""
    return ContentFilter.load(tag_db)
