"""`/help`: prompt advice plus this channel's ratings, the member's quota and the prompt limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from cogs.help import HelpCog
from moderation.gate import Where
from moderation.policy import ChannelRules
from quota.policy import QuotaAsk
from tests.support.interactions import FakeBot, FakeChannel, FakeInteraction, FakeMember, invoke, roles
from tests.support.rules import AGE_RESTRICTED, ORDINARY


@dataclass
class FakeGate:
    rules: ChannelRules
    asked: list[Where] = field(default_factory=list)

    async def rules_for(self, where: Where) -> ChannelRules:
        self.asked.append(where)
        return self.rules


@dataclass
class FakeQuotas:
    text: str = "3 of 10 images left today.\nResets <t:0:R>."
    asked: list[QuotaAsk] = field(default_factory=list)

    async def status(self, ask: QuotaAsk) -> str:
        self.asked.append(ask)
        return self.text


def _context(rules: ChannelRules, quotas: FakeQuotas) -> SimpleNamespace:
    config = SimpleNamespace(generation=SimpleNamespace(max_prompt_chars=1234))
    return SimpleNamespace(gate=FakeGate(rules), quotas=quotas, config=config)


def _ratings_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("**Ratings allowed"))


async def test_help_names_this_channels_ratings_quota_and_prompt_limit() -> None:
    context = _context(ORDINARY, FakeQuotas())
    interaction = FakeInteraction(user=FakeMember(id=7, roles=roles((5, "VIP"))), channel=FakeChannel(id=20))
    await invoke(HelpCog.help, HelpCog(FakeBot(context).as_bot()), interaction)
    reply = interaction.response.only()
    assert reply.ephemeral is True
    assert reply.content is not None
    assert _ratings_line(reply.content).startswith(
        "**Ratings allowed in this channel:** `general`, `sensitive` (default `general`)."
    )
    assert "**Your quota:** 3 of 10 images left today. Resets <t:0:R>." in reply.content
    assert "**Longest prompt:** 1234 characters." in reply.content
    assert len(reply.content) <= 2000
    assert context.gate.asked == [Where(user_id=7, guild_id=10, channel_id=20, parent_id=None, age_restricted=False)]
    assert context.quotas.asked == [QuotaAsk(user_id=7, guild_id=10, role_ids=(5,), images=1)]


async def test_help_in_an_age_restricted_channel_lists_every_rating() -> None:
    context = _context(AGE_RESTRICTED, FakeQuotas())
    interaction = FakeInteraction(channel=FakeChannel(id=20, nsfw=True))
    await invoke(HelpCog.help, HelpCog(FakeBot(context).as_bot()), interaction)
    content = interaction.response.only().content or ""
    assert "`questionable`, `explicit`" in _ratings_line(content)
    assert context.gate.asked[0].age_restricted is True
