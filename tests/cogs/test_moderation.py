"""`/mod`: re-checks permissions at run time and scopes channel settings to a thread's parent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord import app_commands

from cogs.moderation import ModGroup
from core.errors import NotAModerator
from moderation.admin import Actor, BlocklistChange, ModerationOverview, ModlogChange, RatingChange, RatingReset
from moderation.policy import OverLimitAction, PolicySettings
from prompt.ratings import Rating
from tests.support.interactions import FakeBot, FakeChannel, FakeGuild, FakeInteraction, FakeMember, invoke

SERVER = app_commands.Choice(name="whole server", value="server")
CHANNEL = app_commands.Choice(name="this channel", value="channel")


@dataclass
class FakeModeration:
    """Returns what ``moderation.admin.ModerationAdmin`` returns: data, which the cog renders."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    entries: list[SimpleNamespace] = field(default_factory=list)

    async def overview(self, guild_id: int, channel_id: int) -> ModerationOverview:
        self.calls.append(("overview", (guild_id, channel_id)))
        return ModerationOverview(channel_id, PolicySettings(), PolicySettings(), None, ("spider",), ())

    async def set_rating(self, actor: Actor, channel_id: int | None, **changes: object) -> RatingChange | None:
        self.calls.append(("set_rating", (actor, channel_id, changes)))
        if not any(changes.values()):
            return None
        return RatingChange(channel_id, PolicySettings(), PolicySettings(max_rating=Rating.GENERAL))

    async def reset(self, actor: Actor, channel_id: int | None) -> RatingReset:
        self.calls.append(("reset", (actor, channel_id)))
        return RatingReset(channel_id, PolicySettings(default_rating=Rating.SENSITIVE))

    async def block(self, actor: Actor, channel_id: int | None, tag: str, *, add: bool) -> BlocklistChange | None:
        self.calls.append(("block", (actor, channel_id, tag, add)))
        return BlocklistChange(tag, channel_id, add=add, changed=True) if tag.strip() else None

    async def set_modlog(self, actor: Actor, channel_id: int | None) -> ModlogChange:
        self.calls.append(("set_modlog", (actor, channel_id)))
        return ModlogChange(channel_id)

    async def recent(self, guild_id: int, limit: int) -> list[SimpleNamespace]:
        self.calls.append(("recent", (guild_id, limit)))
        return self.entries


def _group(moderation: FakeModeration) -> ModGroup:
    return ModGroup(FakeBot(SimpleNamespace(moderation=moderation)).as_bot())


def _interaction(channel: FakeChannel | None = None, **permissions: bool) -> FakeInteraction:
    return FakeInteraction(
        user=FakeMember(id=7),
        guild=FakeGuild(id=10),
        channel=channel or FakeChannel(id=20),
        permissions=discord.Permissions(**permissions),
    )


async def test_a_server_wide_change_without_manage_server_is_refused() -> None:
    moderation = FakeModeration()
    group = _group(moderation)
    interaction = _interaction(manage_channels=True)
    with pytest.raises(NotAModerator, match="You need the Manage Server permission to use this command."):
        await invoke(ModGroup.rating, group, interaction, scope=SERVER, maximum=None)
    assert moderation.calls == []
    assert interaction.response.sent == []


async def test_a_channel_change_without_manage_channels_is_refused() -> None:
    with pytest.raises(NotAModerator, match="You need the Manage Channels permission"):
        await invoke(ModGroup.block, _group(FakeModeration()), _interaction(), tag="spider", scope=CHANNEL)


async def test_mod_commands_are_refused_in_dms() -> None:
    interaction = FakeInteraction(dm=True, permissions=discord.Permissions(manage_guild=True))
    with pytest.raises(NotAModerator, match="not in DMs"):
        await invoke(ModGroup.show, _group(FakeModeration()), interaction)


async def test_manage_channels_may_change_this_channel() -> None:
    moderation = FakeModeration()
    interaction = _interaction(manage_channels=True)
    maximum = app_commands.Choice(name="general", value="general")
    withhold = app_commands.Choice(name="withhold", value="withhold")
    await invoke(ModGroup.rating, _group(moderation), interaction, scope=CHANNEL, maximum=maximum, over_limit=withhold)
    changes = {"maximum": Rating.GENERAL, "default": None, "over_limit": OverLimitAction.WITHHOLD}
    assert moderation.calls == [("set_rating", (Actor(7, 10, 20), 20, changes))]
    reply = interaction.response.only()
    expected = (
        "Rating rules of <#20>: max `not set`, default `not set`, over-limit images: `not set` → "
        "max `general`, default `not set`, over-limit images: `not set`."
    )
    assert (reply.content, reply.ephemeral) == (expected, True)


async def test_in_a_thread_channel_settings_go_to_its_parent() -> None:
    moderation = FakeModeration()
    interaction = _interaction(FakeChannel(id=21, parent_id=20), manage_channels=True)
    await invoke(ModGroup.show, _group(moderation), interaction)
    assert moderation.calls == [("overview", (10, 20))]


async def test_server_scope_blocks_server_wide() -> None:
    moderation = FakeModeration()
    await invoke(ModGroup.block, _group(moderation), _interaction(manage_guild=True), tag="spider", scope=SERVER)
    assert moderation.calls == [("block", (Actor(7, 10, 20), None, "spider", True))]


async def test_an_empty_audit_log_says_so() -> None:
    interaction = _interaction(manage_guild=True)
    await invoke(ModGroup.audit, _group(FakeModeration()), interaction, count=5)
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == ("The audit log is empty.", True)


async def test_audit_lists_entries() -> None:
    entry = SimpleNamespace(
        id=3,
        created_at=datetime(2024, 1, 1, tzinfo=UTC),
        kind="prompt",
        decision="blocked",
        user_id=8,
        reason="",
        prompt="spider, 1girl",
    )
    moderation = FakeModeration(entries=[entry])
    interaction = _interaction(manage_guild=True)
    await invoke(ModGroup.audit, _group(moderation), interaction, count=5)
    assert moderation.calls == [("recent", (10, 5))]
    assert interaction.response.only().content == "`#3` <t:1704067200:R> **prompt** blocked by <@8>: spider, 1girl"


async def test_show_renders_the_rules_of_this_channel() -> None:
    interaction = _interaction(manage_channels=True)
    await invoke(ModGroup.show, _group(FakeModeration()), interaction)
    reply = interaction.response.only()
    assert reply.ephemeral is True
    assert reply.content == (
        "**Server:** max `not set`, default `not set`, over-limit images: `not set`\n"
        "**<#20>:** max `not set`, default `not set`, over-limit images: `not set`\n"
        "**Mod-log:** off\n"
        "**Blocked (server):** `spider`\n"
        "**Blocked (this channel):** none\n"
        "Discord's rule always applies: nothing above `sensitive` outside age-restricted channels."
    )


async def test_a_rating_change_without_values_says_what_to_give() -> None:
    interaction = _interaction(manage_guild=True)
    await invoke(ModGroup.rating, _group(FakeModeration()), interaction, scope=SERVER)
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == (
        "Nothing to change: give a maximum, a default or an over-limit action.",
        True,
    )


async def test_reset_block_unblock_and_modlog_answer_privately() -> None:
    moderation = FakeModeration()
    group = _group(moderation)
    reset, block, unblock, modlog = (_interaction(manage_guild=True) for _ in range(4))
    await invoke(ModGroup.reset, group, reset, scope=SERVER)
    await invoke(ModGroup.block, group, block, tag="spider", scope=CHANNEL)
    await invoke(ModGroup.unblock, group, unblock, tag="spider", scope=SERVER)
    await invoke(ModGroup.modlog, group, modlog, channel=FakeChannel(id=99))
    assert [(i.response.only().content, i.response.only().ephemeral) for i in (reset, block, unblock, modlog)] == [
        (
            "Rating rules of server cleared (max `not set`, default `sensitive`, over-limit images: `not set`); "
            "it now follows Discord's rule and the defaults.",
            True,
        ),
        ("`spider` is now blocked in <#20>.", True),
        ("`spider` is no longer blocked in this server.", True),
        ("Blocked attempts will be posted in <#99>.", True),
    ]
    assert [name for name, _ in moderation.calls] == ["reset", "block", "block", "set_modlog"]
    assert moderation.calls[-1] == ("set_modlog", (Actor(7, 10, 20), 99))
