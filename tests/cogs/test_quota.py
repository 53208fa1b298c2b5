"""`/quota` for members and the `/quotas` admin group."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import discord
import pytest

from cogs.quota import QuotaCog, QuotasGroup
from core.errors import NotAnAdmin
from moderation.admin import Actor
from quota.policy import LimitKind, QuotaAsk
from tests.support.interactions import FakeBot, FakeChannel, FakeGuild, FakeInteraction, FakeMember, invoke, roles


@dataclass
class FakeQuotaAdmin:
    asked: list[QuotaAsk] = field(default_factory=list)
    limits: list[tuple[Actor, LimitKind, int, int | None]] = field(default_factory=list)

    async def status(self, ask: QuotaAsk) -> str:
        self.asked.append(ask)
        return "3 of 10 images left today."

    async def overview(self, guild_id: int) -> str:
        return f"quotas of {guild_id}"

    async def set_limit(self, actor: Actor, kind: LimitKind, target: int, daily: int | None) -> str:
        self.limits.append((actor, kind, target, daily))
        return f"{kind} set"


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
    assert (reply.content, reply.ephemeral) == ("3 of 10 images left today.", True)
    assert admin.asked == [QuotaAsk(user_id=7, guild_id=10, role_ids=(5,), images=1)]


async def test_quota_in_a_dm_asks_for_the_dm_scope() -> None:
    admin = FakeQuotaAdmin()
    await invoke(QuotaCog.quota, QuotaCog(_bot(admin).as_bot()), FakeInteraction(dm=True))
    assert admin.asked[0].scope_id == 0


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
    group = QuotasGroup(_bot(FakeQuotaAdmin()).as_bot())
    interaction = _admin_interaction()
    await invoke(group.show, group, interaction)
    reply = interaction.response.only()
    assert (reply.content, reply.ephemeral) == ("quotas of 10", True)
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
