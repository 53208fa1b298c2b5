"""Each quota refusal names its reason as a code where it is decided, beside the sentence: the
audit log keeps the code, so `/stats` never depends on the wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.errors import QuotaRefused
from moderation.audit import RefusalReason
from quota.policy import Limits, Usage, decide_text, refusal, refused

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
RESETS = NOW + timedelta(hours=12)
OPEN = Limits(daily=0, max_active=0, cooldown_s=0.0, guild_budget=0, blocked=None)
IDLE = Usage(used_today=0, active=0, last_request_at=None, guild_used_today=0)


@pytest.mark.parametrize(
    ("limits", "usage", "code"),
    [
        (Limits(0, 0, 0.0, 0, blocked="spam"), IDLE, RefusalReason.BLOCKED_MEMBER),
        (Limits(0, 0, 0.0, 0, blocked=""), IDLE, RefusalReason.BLOCKED_MEMBER),
        (Limits(3, 0, 0.0, 0, None), Usage(3, 0, None, 0), RefusalReason.DAILY_QUOTA),
        (Limits(3, 0, 0.0, 0, None), Usage(2, 0, None, 0), RefusalReason.DAILY_QUOTA),  # asks for 2, 1 left
        (Limits(0, 0, 0.0, 10, None), Usage(0, 0, None, 10), RefusalReason.SERVER_BUDGET),
        (Limits(0, 2, 0.0, 0, None), Usage(0, 2, None, 0), RefusalReason.TOO_MANY_JOBS),
        (Limits(0, 0, 60.0, 0, None), Usage(0, 0, NOW - timedelta(seconds=59), 0), RefusalReason.COOLDOWN),
        (Limits(0, 0, 60.0, 0, None), Usage(0, 0, NOW - timedelta(seconds=30), 0), RefusalReason.COOLDOWN),
    ],
)
def test_each_refusal_names_its_code_beside_its_sentence(limits: Limits, usage: Usage, code: RefusalReason) -> None:
    found = refusal(limits, usage, 2, NOW, RESETS)
    assert found is not None and found.code is code
    assert found.text == decide_text(limits, usage, 2, NOW, RESETS)
    error = found.error()
    assert (error.code, error.message) == (code, str(found.text))


def test_an_accepted_request_has_no_refusal() -> None:
    assert refusal(OPEN, IDLE, 4, NOW, RESETS) is None


def test_a_refusal_the_numbers_no_longer_explain_is_another_quota_reason() -> None:
    error = refused(None, "This request is over your quota.")
    assert isinstance(error, QuotaRefused)
    assert (error.code, error.message) == (RefusalReason.OTHER_QUOTA, "This request is over your quota.")
