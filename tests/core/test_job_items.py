"""The cancel rule shared by `/cancel` and the Cancel button, and the button itself."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

import discord
import pytest

from core.errors import NotYourJob
from core.job_items import OUTCOME_MESSAGES, CancelButton, cancel_job, cancel_view
from jobs.service import CancelOutcome, GenerationService
from tests.support.interactions import FakeBot, FakeGuild, FakeInteraction, FakeMember


@dataclass
class FakeService:
    """``cancel_as`` of the GenerationService: answers ``outcome`` (or raises ``error``), records calls."""

    outcome: CancelOutcome = CancelOutcome.REMOVED
    error: Exception | None = None
    calls: list[tuple[int, int, int | None]] = field(default_factory=list)

    async def cancel_as(self, job_id: int, user_id: int, *, moderator_in: int | None = None) -> CancelOutcome:
        self.calls.append((job_id, user_id, moderator_in))
        if self.error is not None:
            raise self.error
        return self.outcome

    def as_service(self) -> GenerationService:
        return cast(GenerationService, self)


@dataclass
class Context:
    service: FakeService


def _member_in_guild(*, manage_messages: bool = False) -> FakeInteraction:
    return FakeInteraction(
        user=FakeMember(id=7),
        guild=FakeGuild(id=10),
        permissions=discord.Permissions(manage_messages=manage_messages),
    )


@pytest.mark.parametrize(
    ("outcome", "text"),
    [
        (CancelOutcome.REMOVED, "🚫 Job #123 was removed from the queue. Nothing was counted against the quota."),
        (CancelOutcome.STOPPING, "🛑 Job #123 stops at its next step. Nothing will be counted against the quota."),
        (CancelOutcome.NOT_FOUND, "Job #123 has already finished or been cancelled."),
    ],
)
async def test_each_outcome_has_its_message(outcome: CancelOutcome, text: str) -> None:
    service = FakeService(outcome=outcome)
    assert await cancel_job(service.as_service(), 123, _member_in_guild().as_interaction()) == text


def test_every_outcome_has_a_message() -> None:
    assert set(OUTCOME_MESSAGES) == set(CancelOutcome)


async def test_a_member_cancels_as_themselves_only() -> None:
    service = FakeService()
    await cancel_job(service.as_service(), 123, _member_in_guild().as_interaction())
    assert service.calls == [(123, 7, None)]


async def test_manage_messages_cancels_as_a_moderator_of_this_guild() -> None:
    service = FakeService()
    await cancel_job(service.as_service(), 123, _member_in_guild(manage_messages=True).as_interaction())
    assert service.calls == [(123, 7, 10)]


async def test_the_button_answers_privately() -> None:
    service = FakeService(outcome=CancelOutcome.STOPPING)
    interaction = _member_in_guild()
    interaction.client = FakeBot(Context(service))
    await CancelButton(123).callback(interaction.as_interaction())
    reply = interaction.response.only()
    assert reply.content == OUTCOME_MESSAGES[CancelOutcome.STOPPING].format(id=123)
    assert reply.ephemeral is True
    assert service.calls == [(123, 7, None)]


async def test_someone_elses_job_is_refused_privately_through_the_funnel() -> None:
    refusal = NotYourJob("Only the member who asked for this image, or a moderator, can cancel it.")
    interaction = _member_in_guild()
    interaction.client = FakeBot(Context(FakeService(error=refusal)))
    await CancelButton(123).callback(interaction.as_interaction())
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == (refusal.message, True)


def test_the_buttons_custom_id_carries_the_job_id() -> None:
    button = CancelButton(123)
    assert button.custom_id == "job:cancel:123"
    assert button.item.label == "Cancel"


async def test_the_custom_id_round_trips_through_the_template() -> None:
    template: re.Pattern[str] = CancelButton.__discord_ui_compiled_template__
    match = template.fullmatch("job:cancel:123")
    assert match is not None
    interaction = cast(discord.Interaction[Any], FakeInteraction())
    item = cast(discord.ui.Item[Any], CancelButton(1).item)
    restored = await CancelButton.from_custom_id(interaction, item, match)
    assert restored.job_id == 123
    assert restored.custom_id == "job:cancel:123"
    assert template.fullmatch("job:cancel:abc") is None


def test_the_view_holds_one_persistent_cancel_button() -> None:
    view = cancel_view(5)
    assert view.timeout is None
    assert [cast(CancelButton, item).custom_id for item in view.children] == ["job:cancel:5"]
