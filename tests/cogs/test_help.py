"""`/help`: prompt advice plus this channel's ratings, the member's quota and the prompt limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

from cogs.help import HelpCog
from moderation.gate import Where
from moderation.policy import ChannelRules
from quota.policy import Limits, QuotaAsk, QuotaStatus
from tests.support.interactions import FakeBot, FakeChannel, FakeInteraction, FakeMember, invoke, roles
from tests.support.rules import AGE_RESTRICTED, ORDINARY


@dataclass
class FakeGate:
    rules: ChannelRules
    asked: list[Where] = field(default_factory=list)

    async def rules_for(self, where: Where) -> ChannelRules:
        self.asked.append(where)
        return self.rules


# 3 of 10 images left, 2 jobs queued; resets 2024-01-02 00:00 UTC.
STATUS = QuotaStatus(
    limits=Limits(daily=10, max_active=0, cooldown_s=0.0, guild_budget=0, blocked=None),
    used_today=7,
    active=2,
    guild_used_today=0,
    resets_at=datetime(2024, 1, 2, tzinfo=UTC),
    cooldown_left_s=0.0,
)


@dataclass
class FakeQuotas:
    answer: QuotaStatus = STATUS
    asked: list[QuotaAsk] = field(default_factory=list)

    async def status(self, ask: QuotaAsk) -> QuotaStatus:
        self.asked.append(ask)
        return self.answer


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
    # The status's two lines, joined into the one line of the help text.
    assert (
        "**Your quota:** 🎟️ Images left today: **3** of 10 (resets <t:1704153600:R>). Queued or running: 2."
        in reply.content.splitlines()
    )
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
