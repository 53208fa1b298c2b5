"""The images held for open Remix forms: one form per member, and a cap on all of them."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

import cogs.describe
from cogs.describe import DescribeCog
from core.image_input import Prefill

PREFILL = Prefill("1girl", "", "1024x1024", from_parameters=False)


def _cog() -> DescribeCog:
    bot = SimpleNamespace(tree=SimpleNamespace(add_command=lambda command: None))
    return DescribeCog(cast(Any, bot))


def test_a_new_remix_replaces_the_members_last_form_not_anyone_elses() -> None:
    cog = _cog()
    first = cog._keep(1, b"a", PREFILL)
    other = cog._keep(2, b"b", PREFILL)
    second = cog._keep(1, b"c", PREFILL)
    assert set(cog._pending) == {other, second} and first not in cog._pending


def test_the_oldest_forms_go_when_the_images_would_pass_the_byte_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cogs.describe, "PENDING_MAX_BYTES", 10)
    cog = _cog()
    oldest = cog._keep(1, b"x" * 6, PREFILL)
    newer = cog._keep(2, b"y" * 4, PREFILL)
    newest = cog._keep(3, b"z" * 5, PREFILL)
    assert list(cog._pending) == [newer, newest] and oldest not in cog._pending
