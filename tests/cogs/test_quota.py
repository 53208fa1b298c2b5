"""`/quota` for members and the `/quotas` admin group."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

import discord
import pytest

from cogs.quota import QuotaCog, QuotasGroup
from core.errors import NotAnAdmin
from moderation.admin import Actor
from quota.admin import BlockChange, LimitChange, QuotaOverview, UserReset
from quota.policy import LimitKind, Limits, QuotaAsk, QuotaOverrides, QuotaStatus
from tests.support.interactions import FakeBot, FakeChannel, FakeGuild, FakeInteraction, FakeMember, invoke, roles

# 3 of 10 images left, 30 of the server's 50; resets 2024-01-02 00:00 UTC.
STATUS = QuotaStatus(
    limits=Limits(daily=10, max_active=0, cooldown_s=0.0, guild_budget=50, blocked=None),
    used_today=7,
    active=0,
    guild_used_today=20,
    resets_at=datetime(2024, 1, 2, tzinfo=UTC),
    cooldown_left_s=0.0,
)


@dataclass
class FakeQuotaAdmin:
    """Returns what ``quota.admin.QuotaAdmin`` returns: data, which the cog renders."""

    asked: list[QuotaAsk] = field(default_factory=list)
    overviews: list[int] = field(default_factory=list)
    limits: list[tuple[Actor, LimitKind, int, int | None]] = field(default_factory=list)
    blocked: list[tuple[Actor, int, str]] = field(default_factory=list)
    was_blocked: bool = True

    async def status(self, ask: QuotaAsk) -> QuotaStatus:
        self.asked.append(ask)
        return STATUS

    async def overview(self, guild_id: int) -> QuotaOverview:
        self.overviews.append(guild_id)
        return QuotaOverview(QuotaOverrides(users={8: 5}), default_daily=20)

    async def set_limit(self, actor: Actor, kind: LimitKind, target: int, daily: int | None) -> LimitChange:
        self.limits.append((actor, kind, target, daily))
        return LimitChange(kind, target, daily)

    async def reset_user(self, actor: Actor, user_id: int) -> UserReset:
        return UserReset(user_id)

    async def block(self, actor: Actor, user_id: int, reason: str) -> BlockChange:
        self.blocked.append((actor, user_id, reason))
        return BlockChange(user_id, blocked=True)

    async def unblock(self, actor: Actor, user_id: int) -> BlockChange:
        return BlockChange(user_id, blocked=False, changed=self.was_blocked)


def _bot(admin: FakeQuotaAdmin) -> FakeBot:
    return FakeBot(SimpleNamespace(quotas=admin))


def _admin_interaction(*, manage_guild: bool = True) -> FakeInteraction:
    return FakeInteraction(
        user=FakeMember(id=7),
        guild=FakeGuild(id=10),
        channel=FakeChannel(id=20),
        permissions=discord.Permissions(manage_guild=manage_guild),
    )


async def test_quota_answers_privately_with_the_members_status() -> None:
    admin = FakeQuotaAdmin()
    interaction = FakeInteraction(user=FakeMember(id=7, roles=roles((5, "VIP"))), guild=FakeGuild(id=10))
    await invoke(QuotaCog.quota, QuotaCog(_bot(admin).as_bot()), interaction)
    reply = interaction.response.only()
    expected = (
        "🎟️ Images left today: **3** of 10 (resets <t:1704153600:R>).\n"
        "Queued or running: 0.\n"
        "This server has 30 of its 50 daily images left."
    )
    assert (reply.content, reply.ephemeral) == (expected, True)
    assert admin.asked == [QuotaAsk(user_id=7, guild_id=10, role_ids=(5,), images=1)]


async def test_quota_in_a_dm_asks_for_the_dm_scope() -> None:
    admin = FakeQuotaAdmin()
    interaction = FakeInteraction(dm=True)
    await invoke(QuotaCog.quota, QuotaCog(_bot(admin).as_bot()), interaction)
    assert admin.asked[0].scope_id == 0
    # A DM has no server budget, so it is not mentioned.
    assert "This server has" not in (interaction.response.only().content or "")


async def test_quotas_show_needs_manage_server() -> None:
    group = QuotasGroup(_bot(FakeQuotaAdmin()).as_bot())
    with pytest.raises(NotAnAdmin, match="You need the Manage Server permission to change quotas."):
        await invoke(group.show, group, _admin_interaction(manage_guild=False))


async def test_quotas_show_needs_a_server() -> None:
    group = QuotasGroup(_bot(FakeQuotaAdmin()).as_bot())
    interaction = FakeInteraction(dm=True, permissions=discord.Permissions(manage_guild=True))
    with pytest.raises(NotAnAdmin, match="Quota settings are per server"):
        await invoke(group.show, group, interaction)


async def test_quotas_show_answers_privately_without_pinging() -> None:
    admin = FakeQuotaAdmin()
    group = QuotasGroup(_bot(admin).as_bot())
    interaction = _admin_interaction()
    await invoke(group.show, group, interaction)
    reply = interaction.response.only()
    expected = (
        "**Daily images per member:** default (config default: 20/day)\n"
        "**Server budget:** default\n"
        "**Members:** <@8> 5/day"
    )
    assert (reply.content, reply.ephemeral) == (expected, True)
    assert admin.overviews == [10]
    mentions = reply.extra["allowed_mentions"]
    assert isinstance(mentions, discord.AllowedMentions)
    assert mentions.to_dict()["parse"] == []


async def test_quotas_server_without_values_resets_both_limits() -> None:
    admin = FakeQuotaAdmin()
    group = QuotasGroup(_bot(admin).as_bot())
    await invoke(group.server, group, _admin_interaction())
    actor = Actor(7, 10, 20)
    assert admin.limits == [(actor, LimitKind.SERVER, 0, None), (actor, LimitKind.BUDGET, 0, None)]


async def test_quotas_server_sets_only_what_is_given() -> None:
    admin = FakeQuotaAdmin()
    group = QuotasGroup(_bot(admin).as_bot())
    await invoke(group.server, group, _admin_interaction(), budget=500)
    assert [(kind, daily) for _, kind, _, daily in admin.limits] == [(LimitKind.BUDGET, 500)]


async def test_quotas_server_answers_one_line_per_change() -> None:
    group = QuotasGroup(_bot(FakeQuotaAdmin()).as_bot())
    interaction = _admin_interaction()
    await invoke(group.server, group, interaction)
    assert interaction.response.only().content == (
        "✅ Members of this server: override removed; the default applies again.\n"
        "✅ This server as a whole: override removed; the default applies again."
    )


async def test_quotas_role_and_user_name_their_target() -> None:
    admin = FakeQuotaAdmin()
    group = QuotasGroup(_bot(admin).as_bot())
    role_interaction, user_interaction = _admin_interaction(), _admin_interaction()
    await invoke(group.role, group, role_interaction, role=SimpleNamespace(id=5), daily=0)
    await invoke(group.user, group, user_interaction, member=FakeMember(id=8), daily=3)
    assert role_interaction.response.only().content == "✅ Members with <@&5>: unlimited."
    assert user_interaction.response.only().content == "✅ <@8>: 3/day."
    assert [(kind, target, daily) for _, kind, target, daily in admin.limits] == [
        (LimitKind.ROLE, 5, 0),
        (LimitKind.USER, 8, 3),
    ]


async def test_quotas_reset_block_and_unblock_answer_privately() -> None:
    admin = FakeQuotaAdmin()
    group = QuotasGroup(_bot(admin).as_bot())
    reset, block, unblock = _admin_interaction(), _admin_interaction(), _admin_interaction()
    await invoke(group.reset, group, reset, member=FakeMember(id=8))
    await invoke(group.block, group, block, member=FakeMember(id=8), reason="spam")
    await invoke(group.unblock, group, unblock, member=FakeMember(id=8))
    assert [(i.response.only().content, i.response.only().ephemeral) for i in (reset, block, unblock)] == [
        ("✅ <@8>'s images for today and cooldown were reset.", True),
        ("⛔ <@8> can no longer generate images in this server.", True),
        ("✅ <@8> may generate images again.", True),
    ]
    assert admin.blocked == [(Actor(7, 10, 20), 8, "spam")]


async def test_quotas_unblock_of_a_member_who_was_not_blocked_says_so() -> None:
    group = QuotasGroup(_bot(FakeQuotaAdmin(was_blocked=False)).as_bot())
    interaction = _admin_interaction()
    await invoke(group.unblock, group, interaction, member=FakeMember(id=8))
    assert interaction.response.only().content == "<@8> was not blocked."
