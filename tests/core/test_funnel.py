"""The error funnel: every failure becomes one private message for the member."""

from __future__ import annotations

import logging
from typing import Any, cast

import pytest
from discord import app_commands

from core import funnel
from core.client import ImagineBot
from core.errors import QuotaRefused, UserFacingError
from tests.support.interactions import FakeCommand, FakeInteraction, http_error


def _invoke_error(original: Exception) -> app_commands.CommandInvokeError:
    command = cast(app_commands.Command[Any, ..., Any], FakeCommand("imagine"))
    return app_commands.CommandInvokeError(command, original)


def test_a_user_facing_error_is_shown_as_written() -> None:
    assert funnel.message_for(QuotaRefused("No images left today."), "/imagine") == "No images left today."


def test_a_command_invoke_error_is_unwrapped() -> None:
    error = _invoke_error(UserFacingError("You have no queued or running jobs."))
    assert funnel.message_for(error, "/cancel") == "You have no queued or running jobs."


def test_a_check_failure_shows_its_text_or_a_default() -> None:
    assert funnel.message_for(app_commands.CheckFailure("Not in DMs."), "/mod show") == "Not in DMs."
    assert funnel.message_for(app_commands.CheckFailure(), "/mod show") == "You cannot use this command here."


def test_an_unknown_error_is_logged_and_the_member_gets_the_apology(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="core.funnel"):
        message = funnel.message_for(_invoke_error(KeyError("boom")), "/imagine")
    assert message == funnel.APOLOGY
    (record,) = caplog.records
    assert record.getMessage() == "unhandled error in /imagine"
    assert isinstance(record.exc_info and record.exc_info[1], KeyError)


def test_a_user_facing_error_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="core.funnel"):
        funnel.message_for(UserFacingError("nope"), "/imagine")
    assert caplog.records == []


async def test_before_any_answer_the_message_is_an_ephemeral_reply() -> None:
    interaction = FakeInteraction()
    await funnel.report(interaction.as_interaction(), UserFacingError("The queue is full."), "/imagine")
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == ("The queue is full.", True)
    assert interaction.edits == []


async def test_after_a_defer_the_thinking_message_is_replaced_and_cleared() -> None:
    interaction = FakeInteraction()
    await interaction.response.defer(thinking=True)
    await funnel.report(interaction.as_interaction(), UserFacingError("The queue is full."), "/imagine")
    assert interaction.edits == [{"content": "❌ The queue is full.", "embed": None, "attachments": [], "view": None}]
    assert interaction.response.sent == []
    assert interaction.followup.sent == []


async def test_a_bug_after_a_defer_edits_in_the_apology(caplog: pytest.LogCaptureFixture) -> None:
    interaction = FakeInteraction()
    await interaction.response.defer(thinking=True)
    with caplog.at_level(logging.ERROR, logger="core.funnel"):
        await funnel.report(interaction.as_interaction(), RuntimeError("bug"), "/imagine")
    assert interaction.edits[0]["content"] == f"❌ {funnel.APOLOGY}"
    assert "unhandled error in /imagine" in caplog.text


async def test_an_http_error_while_replying_is_swallowed_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    interaction = FakeInteraction()
    interaction.response.fail_with = http_error(404, 10062)  # Unknown interaction: too late
    with caplog.at_level(logging.WARNING, logger="core.funnel"):
        await funnel.report(interaction.as_interaction(), UserFacingError("The queue is full."), "/imagine")
    assert interaction.response.sent == []
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "could not tell the member about an error: The queue is full." in caplog.text


async def test_an_http_error_while_editing_is_swallowed() -> None:
    interaction = FakeInteraction()
    await interaction.response.defer(thinking=True)
    interaction.response.fail_with = http_error(401, 50027)  # Invalid webhook token
    await funnel.report(interaction.as_interaction(), UserFacingError("x"), "/imagine")
    assert interaction.edits == []


async def test_the_bots_app_command_error_handler_goes_through_the_funnel(caplog: pytest.LogCaptureFixture) -> None:
    interaction = FakeInteraction(command=FakeCommand("mod rating"))
    bot = cast(ImagineBot, object())  # the handler only delegates
    with caplog.at_level(logging.ERROR, logger="core.funnel"):
        await ImagineBot.on_app_command_error(bot, interaction.as_interaction(), _invoke_error(ValueError("bug")))
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == (funnel.APOLOGY, True)
    assert "unhandled error in /mod rating" in caplog.text


async def test_the_bots_handler_shows_a_user_facing_error() -> None:
    interaction = FakeInteraction(command=FakeCommand("cancel"))
    error = _invoke_error(UserFacingError("You have no queued or running jobs."))
    await ImagineBot.on_app_command_error(cast(ImagineBot, object()), interaction.as_interaction(), error)
    assert interaction.response.only().content == "You have no queued or running jobs."
