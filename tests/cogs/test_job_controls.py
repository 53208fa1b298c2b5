"""`/cancel`: the newest job by default, a chosen one otherwise; its autocomplete lists the member's jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import discord
import pytest
from discord import app_commands

from cogs.job_controls import JobControlsCog, describe
from core.errors import UserFacingError
from core.job_items import OUTCOME_MESSAGES
from jobs.service import CancelOutcome
from tests.support.interactions import FakeBot, FakeGuild, FakeInteraction, FakeMember, invoke


def _job(job_id: int, prompt: str = "1girl, smile") -> SimpleNamespace:
    return SimpleNamespace(id=job_id, request=SimpleNamespace(user_prompt=prompt))


@dataclass
class FakeService:
    jobs: list[SimpleNamespace] = field(default_factory=list)
    outcome: CancelOutcome = CancelOutcome.REMOVED
    cancelled: list[tuple[int, int, int | None]] = field(default_factory=list)

    def active_jobs(self, user_id: int) -> list[SimpleNamespace]:
        return self.jobs

    def position(self, job: SimpleNamespace) -> int | None:
        return self.jobs.index(job)  # the first one runs

    async def cancel_as(self, job_id: int, user_id: int, *, moderator_in: int | None = None) -> CancelOutcome:
        self.cancelled.append((job_id, user_id, moderator_in))
        return self.outcome


def _cog(service: FakeService) -> JobControlsCog:
    return JobControlsCog(FakeBot(SimpleNamespace(service=service)).as_bot())


def _interaction(*, manage_messages: bool = False) -> FakeInteraction:
    permissions = discord.Permissions(manage_messages=manage_messages)
    return FakeInteraction(user=FakeMember(id=7), guild=FakeGuild(id=10), permissions=permissions)


async def test_cancel_without_jobs_is_refused() -> None:
    service = FakeService()
    with pytest.raises(UserFacingError, match="You have no queued or running jobs."):
        await invoke(JobControlsCog.cancel, _cog(service), _interaction())
    assert service.cancelled == []


async def test_cancel_without_a_job_cancels_the_newest() -> None:
    service = FakeService(jobs=[_job(1), _job(2), _job(3)])
    interaction = _interaction()
    await invoke(JobControlsCog.cancel, _cog(service), interaction)
    assert service.cancelled == [(3, 7, None)]
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == (OUTCOME_MESSAGES[CancelOutcome.REMOVED].format(id=3), True)


async def test_cancel_a_chosen_job() -> None:
    service = FakeService(jobs=[_job(1), _job(2)], outcome=CancelOutcome.STOPPING)
    interaction = _interaction()
    await invoke(JobControlsCog.cancel, _cog(service), interaction, job=1)
    assert service.cancelled == [(1, 7, None)]
    assert interaction.response.only().content == OUTCOME_MESSAGES[CancelOutcome.STOPPING].format(id=1)


async def test_a_moderator_cancels_as_moderator_of_the_guild() -> None:
    service = FakeService()
    await invoke(JobControlsCog.cancel, _cog(service), _interaction(manage_messages=True), job=42)
    assert service.cancelled == [(42, 7, 10)]


async def _complete(cog: JobControlsCog, current: str) -> list[app_commands.Choice[int]]:
    # discord.py types the autocomplete as "bound or not"; on the cog it is bound.
    complete: Callable[[discord.Interaction[Any], str], Awaitable[list[app_commands.Choice[int]]]]
    complete = cast(Any, cog).complete_job
    return await complete(_interaction().as_interaction(), current)


async def test_autocomplete_lists_the_members_jobs_by_id_prefix() -> None:
    service = FakeService(jobs=[_job(12, "1girl"), _job(13, "1boy"), _job(21, "cat")])
    cog = _cog(service)
    choices = await _complete(cog, "#1")
    assert [(c.name, c.value) for c in choices] == [
        ("#12 · running · 1girl", 12),
        ("#13 · #1 in line · 1boy", 13),
    ]
    assert len(await _complete(cog, "")) == 3


def test_long_job_descriptions_fit_a_choice_name() -> None:
    text = describe(5, 2, "tag, " * 50)
    assert len(text) == 100
    assert text.startswith("#5 · #2 in line · tag,")
    assert text.endswith("…")
    assert describe(5, None, "x") == "#5 · finishing · x"
