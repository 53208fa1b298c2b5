"""The output check's decision for a finished job: which images are posted, which as spoilers,
which are withheld, and whether the job is refunded. Delivery (core.messenger) follows the plan;
it decides nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from moderation.audit import AuditTrail
from moderation.policy import ChannelRules, OverLimitAction, over_limit_action
from moderation.scores import RatingScores
from prompt.ratings import Rating
from prompt.request import GenerationRequest


@dataclass(frozen=True, slots=True)
class Shown:
    index: int  # the image's place in the job's result
    spoiler: bool


@dataclass(frozen=True, slots=True)
class Withheld:
    index: int
    rating: Rating  # what the output check rated it


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    shown: tuple[Shown, ...]
    withheld: tuple[Withheld, ...]
    limit: Rating  # the channel's maximum, for the member's explanation

    @property
    def all_shown(self) -> bool:
        return not self.withheld

    @property
    def refund(self) -> bool:
        """Nothing reaches the member: the job is failed and its images given back."""
        return not self.shown

    @property
    def any_spoiler(self) -> bool:
        return any(image.spoiler for image in self.shown)

    @property
    def nothing_made(self) -> bool:
        """The job has no image at all: a generation failure, not the output check's doing."""
        return not self.shown and not self.withheld

    @property
    def failure_reason(self) -> str | None:
        """What the job record says when nothing reaches the member."""
        if not self.refund:
            return None
        if self.nothing_made:
            return "the generation made no image"
        return f"withheld by the output check (rated {self.withheld[0].rating.label})"


def plan_delivery(rules: ChannelRules, scores: Sequence[RatingScores | None]) -> DeliveryPlan:
    """Each image under the channel's rules; an image the check did not rate is posted openly."""
    shown: list[Shown] = []
    withheld: list[Withheld] = []
    for index, image_scores in enumerate(scores):
        classified = image_scores.rating() if image_scores is not None else None
        action = over_limit_action(rules, classified) if classified is not None else None
        if action is OverLimitAction.WITHHOLD and classified is not None:
            withheld.append(Withheld(index, classified))
        else:
            shown.append(Shown(index, spoiler=action is OverLimitAction.SPOILER))
    return DeliveryPlan(tuple(shown), tuple(withheld), rules.max_rating)


class OutputCheck:
    """Plans a job's delivery and audits every image it spoilers or withholds."""

    def __init__(self, audit: AuditTrail | None = None) -> None:
        self._audit = audit

    async def review(
        self, job_id: int, request: GenerationRequest, rules: ChannelRules, scores: Sequence[RatingScores | None]
    ) -> DeliveryPlan:
        plan = plan_delivery(rules, scores)
        spoilered = {image.index for image in plan.shown if image.spoiler}
        withheld = {image.index for image in plan.withheld}
        for index, image_scores in enumerate(scores):
            if image_scores is None or (index not in spoilered and index not in withheld):
                continue
            action = OverLimitAction.SPOILER if index in spoilered else OverLimitAction.WITHHOLD
            await self._record(job_id, request, rules, image_scores, action)
        return plan

    async def _record(
        self,
        job_id: int,
        request: GenerationRequest,
        rules: ChannelRules,
        scores: RatingScores,
        action: OverLimitAction,
    ) -> None:
        if self._audit is None:
            return
        await self._audit.record(
            "output_check",
            user_id=request.user_id,
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            decision=action.value,
            reason=f"classified {scores.rating().label}, channel limit {rules.max_rating.label}",
            prompt=request.prompt,
            rating=request.rating,
            details={"job": job_id, "scores": {r.label: v for r, v in scores.as_dict().items()}},
        )
