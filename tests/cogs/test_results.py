"""The result buttons: Parameters answers privately, Delete is for the asker and moderators,
Re-roll goes back through submit_imagine as the member who clicked."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, cast

import discord
import pytest

import cogs.results
from cogs.results import ResultsCog, parameters_text
from core.result_view import ResultAction
from prompt.options import ImagineOptions
from prompt.request import GenerationRequest
from prompt.user_defaults import UserDefaults
from tests.support.interactions import FakeBot, FakeInteraction, FakeMember, FakeMessage
from tests.support.requests import sample_request

ASKER = 7


def _request(**changes: Any) -> GenerationRequest:
    return sample_request(user_id=ASKER, **changes)


@dataclass
class FakeService:
    records: dict[int, GenerationRequest] = field(default_factory=dict)

    async def record(self, job_id: int) -> SimpleNamespace | None:
        request = self.records.get(job_id)
        return SimpleNamespace(request=request) if request is not None else None


@dataclass
class FakeSettings:
    defaults: UserDefaults = field(default_factory=UserDefaults)

    async def get(self, user_id: int) -> UserDefaults:
        return self.defaults


def _cog(request: GenerationRequest | None = None, settings: FakeSettings | None = None) -> ResultsCog:
    service = FakeService({5: request} if request is not None else {})
    context = SimpleNamespace(service=service, settings=settings or FakeSettings())
    return ResultsCog(FakeBot(context).as_bot())


def _click(user_id: int = ASKER, *, manage_messages: bool = False) -> FakeInteraction:
    return FakeInteraction(
        user=FakeMember(id=user_id),
        permissions=discord.Permissions(manage_messages=manage_messages),
        message=FakeMessage(),
    )


async def test_parameters_are_sent_privately() -> None:
    request = _request()
    interaction = _click(user_id=8)  # anyone may read them
    await _cog(request).on_result_button(interaction.as_interaction(), ResultAction.PARAMS, 5, 0)
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == (parameters_text(request), True)
    assert "/imagine prompt:1girl, smile aspect:832x1216 seed:1234" in parameters_text(request)


async def test_very_long_parameters_come_as_a_file() -> None:
    request = _request(user_prompt="tag, " * 500, prompt="tag, " * 500)
    interaction = _click()
    await _cog(request).on_result_button(interaction.as_interaction(), ResultAction.PARAMS, 5, 0)
    reply = interaction.response.only()
    assert reply.ephemeral is True
    assert reply.content == "📋 Parameters (long prompt, attached):"
    assert isinstance(reply.extra["file"], discord.File)


async def test_delete_by_the_asker_deletes_the_message() -> None:
    interaction = _click()
    await _cog(_request()).on_result_button(interaction.as_interaction(), ResultAction.DELETE, 5, 0)
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == ("🗑️ Deleted.", True)
    assert interaction.message is not None and interaction.message.deleted


async def test_delete_by_a_moderator_deletes_the_message() -> None:
    interaction = _click(user_id=8, manage_messages=True)
    await _cog(_request()).on_result_button(interaction.as_interaction(), ResultAction.DELETE, 5, 0)
    assert interaction.message is not None and interaction.message.deleted


async def test_delete_by_someone_else_is_refused_privately() -> None:
    interaction = _click(user_id=8)
    await _cog(_request()).on_result_button(interaction.as_interaction(), ResultAction.DELETE, 5, 0)
    reply = interaction.response.only()
    assert reply.content == "Only the member who asked for this image, or a moderator, can delete it."
    assert reply.ephemeral is True
    assert interaction.message is not None and not interaction.message.deleted


async def test_an_unknown_job_is_explained() -> None:
    interaction = _click()
    await _cog(None).on_result_button(interaction.as_interaction(), ResultAction.PARAMS, 5, 0)
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == ("This result is no longer known to the bot.", True)


async def test_reroll_submits_a_new_seed_as_the_clicker_with_their_privacy(monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[tuple[ImagineOptions, bool]] = []

    async def fake_submit(bot: object, interaction: object, options: ImagineOptions, *, private: bool = False) -> None:
        submitted.append((options, private))

    monkeypatch.setattr(cogs.results, "submit_imagine", fake_submit)
    settings = FakeSettings(UserDefaults(private=True))
    await _cog(_request(), settings).on_result_button(_click(user_id=8).as_interaction(), ResultAction.REROLL, 5, 0)
    ((options, private),) = submitted
    assert private is True
    assert (options.prompt, options.aspect, options.seed) == ("1girl, smile", "832x1216", None)


async def test_upscaling_an_image_that_does_not_exist_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing may be submitted")

    monkeypatch.setattr(cogs.results, "submit_imagine", fail)
    interaction = _click()
    await _cog(_request()).on_result_button(interaction.as_interaction(), ResultAction.UPSCALE, 5, 2)
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == ("This result has 1 image(s); there is no image 3.", True)


class GoneMessage(FakeMessage):
    async def delete(self) -> None:
        raise discord.NotFound(
            cast(Any, SimpleNamespace(status=404, reason="Not Found")), {"code": 10008, "message": "Unknown Message"}
        )


async def test_delete_of_a_message_already_gone_is_told_privately() -> None:
    interaction = _click()
    interaction.message = GoneMessage()
    await _cog(_request()).on_result_button(interaction.as_interaction(), ResultAction.DELETE, 5, 0)
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == ("That message is gone already.", True)
