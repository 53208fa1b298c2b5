"""When /imagine answers Discord before its decision is made (see core.submit)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord

QUIET_POLL_S = 0.05


@dataclass
class Pacer:
    """When to answer Discord before the decision is made.

    ``budget_s``: a decision still running this long after the member clicked is answered
    first (the rest of Discord's 3 s is for the network and the "thinking" call itself).
    ``busy_at``: with this many decisions running, every request is answered first straight
    away, including those already waiting for their decision: they all wait on the same
    database, so none would be quick.
    """

    budget_s: float = 1.0
    busy_at: int = 4
    deciding: int = 0
    busy: asyncio.Event = field(default_factory=asyncio.Event)

    def wait_s(self, interaction: discord.Interaction[Any]) -> float:
        """How long to wait for the decision before answering; 0: answer now."""
        if self.deciding >= self.busy_at:
            return 0.0
        age = (datetime.now(UTC) - interaction.created_at).total_seconds()
        return min(max(self.budget_s - age, 0.0), self.budget_s)  # a skewed clock cannot stretch it

    async def until_answer(self, interaction: discord.Interaction[Any], deciding: asyncio.Future[Any]) -> None:
        """Return when the decision is made, the budget is spent, or the bot became busy."""
        wait = self.wait_s(interaction)
        if wait <= 0:
            return
        busy = asyncio.ensure_future(self.busy.wait())
        try:
            await asyncio.wait({deciding, busy}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            busy.cancel()

    async def quiet(self, longest_s: float = 2.0) -> None:
        """Wait while the bot is busy answering a burst (``longest_s`` at most): the GPU thread's
        next batch can wait that long, the members' answers cannot."""
        waited = 0.0
        while self.busy.is_set() and waited < longest_s:
            await asyncio.sleep(QUIET_POLL_S)
            waited += QUIET_POLL_S

    @contextlib.contextmanager
    def decision(self) -> Iterator[None]:
        self.deciding += 1
        if self.deciding >= self.busy_at:
            self.busy.set()
        try:
            yield
        finally:
            self.deciding -= 1
            if self.deciding < self.busy_at:
                self.busy.clear()
