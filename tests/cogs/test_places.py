"""Where each command may be used: member commands everywhere members are (a server's install and
their own; servers, DMs, group DMs), moderator and admin commands only in the server that added
the bot."""

from __future__ import annotations

from typing import Any, cast

from cogs.describe import DescribeCog
from cogs.help import HelpCog
from cogs.imagine import ImagineCog
from cogs.job_controls import JobControlsCog
from cogs.moderation import ModGroup
from cogs.quota import QuotaCog, QuotasGroup
from cogs.settings import SettingsGroup
from cogs.workers import WorkersCog


def _places(command: Any) -> tuple[tuple[bool, bool], tuple[bool, bool, bool]]:
    installs, contexts = command.allowed_installs, command.allowed_contexts
    return (installs.guild, installs.user), (contexts.guild, contexts.dm_channel, contexts.private_channel)


def test_member_commands_go_wherever_members_are() -> None:
    for command in (
        ImagineCog.imagine,
        DescribeCog.describe,
        HelpCog.help,
        JobControlsCog.cancel,
        QuotaCog.quota,
        SettingsGroup(cast(Any, None)),
    ):
        assert _places(command) == ((True, True), (True, True, True)), command.name


def test_moderator_and_admin_commands_stay_in_the_server() -> None:
    for command in (ModGroup(cast(Any, None)), QuotasGroup(cast(Any, None)), WorkersCog.workers):
        assert _places(command) == ((True, False), (True, False, False)), command.name
