"""What a member is told about withheld images: above the channel's limit, or by the output
check's minor rule (in any channel), in the member's language."""

from __future__ import annotations

from core.job_text import withheld_notice
from moderation.output_check import DeliveryPlan, Shown, Withheld
from moderation.scores import MinorScore
from prompt.ratings import Rating

LOLI = MinorScore("loli", 0.9)


def test_an_image_the_minor_rule_withheld_is_explained_without_the_channel_limit() -> None:
    plan = DeliveryPlan((), (Withheld(0, Rating.EXPLICIT, LOLI),), Rating.EXPLICIT)
    text = withheld_notice(plan)
    assert text == (
        "1 of your images was withheld: the output check found sexual content with a minor-coded character, "
        "which is never allowed in any channel."
    )
    assert "loli" not in text  # the member is not told which label tripped it


def test_both_kinds_in_one_job() -> None:
    withheld = (
        Withheld(0, Rating.QUESTIONABLE),
        Withheld(1, Rating.EXPLICIT, LOLI),
        Withheld(2, Rating.EXPLICIT, LOLI),
    )
    text = withheld_notice(DeliveryPlan((Shown(3, False),), withheld, Rating.SENSITIVE))
    assert text.startswith("1 of your images was withheld: the output check rated it `questionable`")
    assert text.endswith(
        "2 of your images were withheld: the output check found sexual content with a minor-coded "
        "character, which is never allowed in any channel."
    )


def test_in_the_member_s_language() -> None:
    plan = DeliveryPlan((), (Withheld(0, Rating.EXPLICIT, LOLI),), Rating.EXPLICIT)
    assert "未成年" in withheld_notice(plan, "ja")
    assert "미성년자" in withheld_notice(plan, "ko")
    assert "未成年" in withheld_notice(plan, "zh-CN") and "未成年" in withheld_notice(plan, "zh-TW")
