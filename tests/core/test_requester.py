"""Who asked, where: read once off the interaction, then sliced for each layer."""

from __future__ import annotations

import discord

from core.requester import Requester, is_age_restricted
from jobs.model import Place
from jobs.scheduler import NORMAL, PRIORITY
from moderation.gate import Where
from quota.policy import QuotaAsk
from tests.support.interactions import FakeChannel, FakeGuild, FakeInteraction, FakeMember, dm_channel, roles


def _member() -> FakeMember:
    return FakeMember(id=7, name="alice", roles=roles((555, "VIP"), (556, "artists")))


def test_everything_is_read_off_the_interaction() -> None:
    interaction = FakeInteraction(
        user=_member(),
        guild=FakeGuild(id=10, name="Art Club"),
        channel=FakeChannel(id=20),
        permissions=discord.Permissions(manage_messages=True),
        locale=discord.Locale.japanese,
    )
    requester = Requester.of(interaction.as_interaction())
    assert requester == Requester(
        user_id=7,
        user_name="alice",
        guild_id=10,
        guild_name="Art Club",
        channel_id=20,
        parent_id=None,
        age_restricted=False,
        role_ids=(555, 556),
        role_names=("VIP", "artists"),
        manage_messages=True,
        manage_guild=False,
        locale="ja",
    )


def test_it_is_a_snapshot_later_changes_to_the_interaction_do_not_leak_in() -> None:
    interaction = FakeInteraction(user=_member())
    requester = Requester.of(interaction.as_interaction())
    interaction.user = FakeMember(id=8, name="bob")
    interaction.permissions = discord.Permissions(manage_guild=True)
    assert (requester.user_id, requester.role_ids, requester.manage_guild) == (7, (555, 556), False)


def test_where_place_and_quota_ask_carry_the_same_facts() -> None:
    interaction = FakeInteraction(user=_member(), guild=FakeGuild(10, "Art Club"), channel=FakeChannel(id=20))
    requester = Requester.of(interaction.as_interaction())
    assert requester.where == Where(user_id=7, guild_id=10, channel_id=20, parent_id=None, age_restricted=False)
    assert requester.place == Place(
        user_id=7, user_name="alice", guild_id=10, guild_name="Art Club", channel_id=20, channel_nsfw=False
    )
    assert requester.quota_ask() == QuotaAsk(user_id=7, guild_id=10, role_ids=(555, 556), images=1)
    assert requester.quota_ask(images=3).images == 3


def test_priority_by_role_name_in_any_case() -> None:
    requester = Requester.of(FakeInteraction(user=_member()).as_interaction())
    assert requester.priority(["vip"]) == PRIORITY
    assert requester.priority(["ARTISTS"]) == PRIORITY


def test_priority_by_role_id_as_a_string() -> None:
    requester = Requester.of(FakeInteraction(user=_member()).as_interaction())
    assert requester.priority(["556"]) == PRIORITY


def test_no_priority_without_a_matching_role() -> None:
    requester = Requester.of(FakeInteraction(user=_member()).as_interaction())
    assert requester.priority([]) == NORMAL
    assert requester.priority(["moderators", "557"]) == NORMAL
    assert Requester.of(FakeInteraction().as_interaction()).priority(["vip"]) == NORMAL


def test_a_dm_has_no_guild_and_is_not_age_restricted() -> None:
    interaction = FakeInteraction(dm=True, channel=dm_channel(40))
    requester = Requester.of(interaction.as_interaction())
    assert (requester.guild_id, requester.guild_name, requester.channel_id) == (None, "", 40)
    assert requester.age_restricted is False
    assert requester.role_ids == ()
    assert requester.quota_ask().scope_id == 0


def test_a_threads_parent_channel_is_kept() -> None:
    interaction = FakeInteraction(channel=FakeChannel(id=21, parent_id=20))
    where = Requester.of(interaction.as_interaction()).where
    assert (where.channel_id, where.parent_id) == (21, 20)


def test_an_age_restricted_channel() -> None:
    requester = Requester.of(FakeInteraction(channel=FakeChannel(id=20, nsfw=True)).as_interaction())
    assert requester.age_restricted is True
    assert requester.where.age_restricted is True
    assert requester.place.channel_nsfw is True


def test_age_restriction_of_odd_channels() -> None:
    assert is_age_restricted(None) is False
    assert is_age_restricted(dm_channel()) is False
    assert is_age_restricted(object()) is False  # a channel type without the flag


def test_a_user_install_where_the_bot_is_not_counts_as_no_server() -> None:
    interaction = FakeInteraction(
        user=_member(),
        guild=FakeGuild(id=10, name="Elsewhere"),
        channel=FakeChannel(id=20, nsfw=True),
        user_install=True,
    )
    requester = Requester.of(interaction.as_interaction())
    assert (requester.guild_id, requester.guild_name, requester.role_ids) == (None, "", ())
    assert requester.where == Where(7, None, 20, None, age_restricted=True, user_install=True)
    assert requester.quota_ask() == QuotaAsk(user_id=7, guild_id=None)  # one quota for every such place
    assert requester.place.guild_id is None and requester.place.channel_nsfw
