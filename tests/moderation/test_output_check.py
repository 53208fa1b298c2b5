from __future__ import annotations

from moderation.output_check import OutputCheck, Shown, Withheld, plan_delivery
from moderation.policy import ChannelRules, OverLimitAction
from moderation.scores import RatingScores
from prompt.ratings import Rating
from tests.support.audit import RecordingAudit
from tests.support.requests import sample_request

GENERAL = RatingScores(0.9, 0.05, 0.03, 0.02)
QUESTIONABLE = RatingScores(0.05, 0.1, 0.8, 0.05)
SENSITIVE = RatingScores(0.1, 0.8, 0.05, 0.05)


def rules(max_rating: Rating, action: OverLimitAction, *, age_restricted: bool = False) -> ChannelRules:
    return ChannelRules(
        age_restricted=age_restricted, max_rating=max_rating, default_rating=Rating.GENERAL, over_limit_action=action
    )


def test_images_within_the_limit_or_unrated_are_posted_openly() -> None:
    plan = plan_delivery(rules(Rating.SENSITIVE, OverLimitAction.WITHHOLD), [GENERAL, None, SENSITIVE])
    assert plan.shown == (Shown(0, False), Shown(1, False), Shown(2, False))
    assert plan.all_shown and not plan.refund and not plan.any_spoiler
    assert plan.failure_reason is None


def test_over_the_limit_is_withheld_and_everything_withheld_is_refunded() -> None:
    plan = plan_delivery(rules(Rating.GENERAL, OverLimitAction.WITHHOLD), [SENSITIVE])
    assert plan.withheld == (Withheld(0, Rating.SENSITIVE),)
    assert plan.refund
    assert plan.failure_reason == "withheld by the output check (rated sensitive)"


def test_some_withheld_posts_the_rest_without_a_refund() -> None:
    plan = plan_delivery(rules(Rating.GENERAL, OverLimitAction.WITHHOLD), [GENERAL, SENSITIVE])
    assert plan.shown == (Shown(0, False),)
    assert plan.withheld == (Withheld(1, Rating.SENSITIVE),)
    assert not plan.refund and not plan.all_shown


def test_spoiler_below_discords_ceiling() -> None:
    plan = plan_delivery(rules(Rating.GENERAL, OverLimitAction.SPOILER), [SENSITIVE])
    assert plan.shown == (Shown(0, True),) and plan.any_spoiler


def test_above_discords_ceiling_is_withheld_even_where_spoilers_are_chosen() -> None:
    plan = plan_delivery(rules(Rating.SENSITIVE, OverLimitAction.SPOILER), [QUESTIONABLE])
    assert plan.withheld == (Withheld(0, Rating.QUESTIONABLE),)


async def test_review_audits_each_spoilered_or_withheld_image() -> None:
    audit = RecordingAudit()
    check = OutputCheck(audit)
    plan = await check.review(
        42, sample_request(), rules(Rating.GENERAL, OverLimitAction.SPOILER), [GENERAL, SENSITIVE]
    )
    assert plan.shown == (Shown(0, False), Shown(1, True))
    assert [(e["kind"], e["decision"], e["details"]["job"]) for e in audit.entries] == [("output_check", "spoiler", 42)]
    assert audit.entries[0]["reason"] == "classified sensitive, channel limit general"
    assert audit.entries[0]["details"]["scores"]["sensitive"] == 0.8


def test_a_job_without_images_is_a_failure_but_not_the_output_check_s() -> None:
    plan = plan_delivery(rules(Rating.GENERAL, OverLimitAction.WITHHOLD), [])
    assert plan.shown == () and plan.withheld == () and plan.refund
    assert plan.nothing_made
    assert plan.failure_reason == "the generation made no image"
