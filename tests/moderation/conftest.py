from __future__ import annotations

import pytest

from moderation.content import ContentFilter
from prompt.tags import TagDatabase


@pytest.fixture(scope="session")
def content_filter(tag_db: TagDatabase) -> ContentFilter:
    """The content filter with the repository's lists, built once."""
    return ContentFilter.load(tag_db)
