"""When /imagine answers Discord before its decision is made (see core.submit)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import discord


@dataclass
class Pacer:
    """When to answer Discord before the decision is made.

    ``budget_s``: a decision still running this long after the member clicked is answered
    first (the rest of Discord's 3 s is for the network and the "thinking" call itself).
    ``busy_at``: with this many decisions already running, the next one is answered first
    straight away: they wait on the same database, so it would not be quick.
    """

    budget_s: float = 1.0
    busy_at: int = 4
    deciding: int = 0

    def wait_s(self, interaction: discord.Interaction[Any]) -> float:
        """How long to wait for the decision before answering; 0: answer now."""
        if self.deciding >= self.busy_at:
            return 0.0
        age = (datetime.now(UTC) - interaction.created_at).total_seconds()
        return min(max(self.budget_s - age, 0.0), self.budget_s)  # a skewed clock cannot stretch it

    @contextlib.contextmanager
    def decision(self) -> Iterator[None]:
        self.deciding += 1
        try:
            yield
        finally:
            self.deciding -= 1
