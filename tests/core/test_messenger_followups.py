"""A private notice that cannot be a follow-up (an interaction only a member's own install
authorised gets five) goes to the member's DMs instead, with a link back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from core.messenger import FOLLOWUP_LIMIT_CODE, JobMessenger
from tests.support.interactions import http_error


@dataclass
class FakeDM:
    sent: list[str] = field(default_factory=list)

    async def send(self, content: str, **_: Any) -> None:
        self.sent.append(content)


@dataclass
class FakeReply:
    code: int
    dm: FakeDM = field(default_factory=FakeDM)
    followups: list[str] = field(default_factory=list)
    user_id: int = 7
    locale: str = "en-US"
    link: str = "https://discord.com/channels/1/2"

    async def followup(self, content: str, *, ephemeral: bool) -> None:
        if self.code:
            raise http_error(400, self.code)
        self.followups.append(content)

    async def direct_messages(self) -> FakeDM:
        return self.dm


async def _tell(reply: FakeReply) -> None:
    messenger = JobMessenger(cast(Any, None), 1.0)
    await messenger._tell_privately(cast(Any, reply), "1 of your images was withheld.")


async def test_a_notice_is_a_private_follow_up_when_it_can_be() -> None:
    reply = FakeReply(code=0)
    await _tell(reply)
    assert reply.followups == ["1 of your images was withheld."] and reply.dm.sent == []


async def test_past_the_follow_up_limit_the_notice_goes_to_dms_with_a_link_back() -> None:
    reply = FakeReply(code=FOLLOWUP_LIMIT_CODE)
    await _tell(reply)
    assert reply.dm.sent == ["1 of your images was withheld.\n↩️ https://discord.com/channels/1/2"]


async def test_other_failures_are_logged_not_sent_elsewhere() -> None:
    reply = FakeReply(code=50013)
    await _tell(reply)
    assert reply.dm.sent == [] and reply.followups == []
