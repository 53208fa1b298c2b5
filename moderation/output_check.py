"""The output check's decision for a finished job: which images are posted, which as spoilers,
which are withheld, and whether the job is refunded. Delivery (core.messenger) follows the plan;
it decides nothing itself.

Two rules, in this order:

1. the minor rule (``MinorRule``): an image the tagger finds minor-coded (``loli``, ``child``, …
   at ``tag_threshold`` or more) that is also sexual (rated questionable or explicit, or its
   questionable and explicit scores together at ``sexual_threshold`` or more) is withheld in
   every channel, age-restricted ones included, whatever moderators chose for over-limit
   images; it is audited with the code ``minors`` and posted to the server's mod-log channel.
   The words of a prompt can always be bent somewhere; this judges the picture itself.
2. the rating rules (``moderation.policy.over_limit_action``): above the channel's maximum an
   image is withheld or spoilered, as moderators chose.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from core.text import Message, t
from moderation.audit import AuditTrail, RefusalReason
from moderation.gate import BlockedAttempt
from moderation.policy import ChannelRules, OverLimitAction, over_limit_action
from moderation.scores import MinorScore, RatingScores
from prompt.ratings import Rating
from prompt.request import GenerationRequest

log = logging.getLogger(__name__)

# (guild id, what to post in its mod-log channel): moderation.gate.RequestGate.post_to_modlog.
ModlogNotifier = Callable[[int | None, BlockedAttempt], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MinorRule:
    """The thresholds of the minor rule ([moderation] minor_tag_threshold, minor_sexual_threshold)."""

    tag_threshold: float = 0.35  # a minor-coded label at this confidence or more
    sexual_threshold: float = 0.35  # questionable + explicit at this or more counts as sexual

    def __post_init__(self) -> None:
        for name in ("tag_threshold", "sexual_threshold"):
            value = getattr(self, name)
            if math.isnan(value) or not 0 < value <= 1:
                raise ValueError(f"{name} must be above 0 and at most 1, got {value!r}")

    def flags(self, scores: RatingScores) -> MinorScore | None:
        """The minor-coded label that withholds this image, or None. NaNs (a broken model) count
        as over every threshold: the rule fails closed."""
        minor = scores.minor
        if minor is None:
            return None
        if not (minor.confidence >= self.tag_threshold or math.isnan(minor.confidence)):
            return None
        sexual_score = scores.questionable + scores.explicit
        sexual = scores.rating() >= Rating.QUESTIONABLE or not sexual_score < self.sexual_threshold
        return minor if sexual else None


DEFAULT_MINOR_RULE = MinorRule()


@dataclass(frozen=True, slots=True)
class Shown:
    index: int  # the image's place in the job's result
    spoiler: bool


@dataclass(frozen=True, slots=True)
class Withheld:
    index: int
    rating: Rating  # what the output check rated it
    minor: MinorScore | None = None  # set when the minor rule withheld it

    @property
    def reason(self) -> str:
        """Why, in the job record's and the audit log's English."""
        if self.minor is None:
            return f"rated {self.rating.label}"
        return f"minor-coded {self.minor.tag} ({self.minor.confidence:.2f}), rated {self.rating.label}"


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
        return f"withheld by the output check ({self.withheld[0].reason})"


def plan_delivery(
    rules: ChannelRules,
    scores: Sequence[RatingScores | None],
    minor_rule: MinorRule | None = DEFAULT_MINOR_RULE,
) -> DeliveryPlan:
    """Each image under the minor rule (None: off), then the channel's rules; an image the check
    did not rate is posted openly."""
    shown: list[Shown] = []
    withheld: list[Withheld] = []
    for index, image_scores in enumerate(scores):
        classified = image_scores.rating() if image_scores is not None else None
        minor = minor_rule.flags(image_scores) if minor_rule is not None and image_scores is not None else None
        action = over_limit_action(rules, classified) if classified is not None else None
        if minor is not None and classified is not None:
            withheld.append(Withheld(index, classified, minor))
        elif action is OverLimitAction.WITHHOLD and classified is not None:
            withheld.append(Withheld(index, classified))
        else:
            shown.append(Shown(index, spoiler=action is OverLimitAction.SPOILER))
    return DeliveryPlan(tuple(shown), tuple(withheld), rules.max_rating)


def minor_withheld_text(image: Withheld) -> Message:
    """The mod-log's (and the audit log's) sentence for an image the minor rule withheld."""
    minor = image.minor
    assert minor is not None, "only for images the minor rule withheld"
    # i18n: {tag} is a Danbooru tag and {rating} a rating name, both kept as written; {confidence} is a percentage.
    return t(
        "The output check withheld an image: minor-coded `{tag}` ({confidence}) with the rating `{rating}`.",
        tag=minor.tag,
        confidence=f"{minor.confidence:.0%}",
        rating=image.rating.label,
    )


class OutputCheck:
    """Plans a job's delivery and audits every image it spoilers or withholds; an image the minor
    rule withheld is also posted to the server's mod-log channel."""

    def __init__(
        self,
        audit: AuditTrail | None = None,
        *,
        minor_rule: MinorRule | None = DEFAULT_MINOR_RULE,
        notify: ModlogNotifier | None = None,
    ) -> None:
        self._audit = audit
        self._minor_rule = minor_rule
        self._notify = notify

    def set_modlog_notifier(self, notify: ModlogNotifier) -> None:
        """The gate (which knows each server's mod-log channel) is built after the jobs."""
        self._notify = notify

    async def review(
        self, job_id: int, request: GenerationRequest, rules: ChannelRules, scores: Sequence[RatingScores | None]
    ) -> DeliveryPlan:
        plan = plan_delivery(rules, scores, self._minor_rule)
        spoilered = {image.index for image in plan.shown if image.spoiler}
        withheld = {image.index: image for image in plan.withheld}
        for index, image_scores in enumerate(scores):
            if image_scores is None or (index not in spoilered and index not in withheld):
                continue
            minor_image = withheld[index] if index in withheld and withheld[index].minor is not None else None
            if minor_image is not None:
                await self._minor_withheld(job_id, request, image_scores, minor_image)
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

    async def _minor_withheld(
        self, job_id: int, request: GenerationRequest, scores: RatingScores, image: Withheld
    ) -> None:
        """Audited as a withheld image with the ``minors`` code, and posted to the mod-log like a
        refused prompt."""
        assert image.minor is not None
        reason = minor_withheld_text(image)
        if self._audit is not None:
            await self._audit.record(
                "output_check",
                user_id=request.user_id,
                guild_id=request.guild_id,
                channel_id=request.channel_id,
                decision=OverLimitAction.WITHHOLD.value,
                reason=str(reason),  # the audit log is in English
                prompt=request.prompt,
                rating=request.rating,
                details={
                    "job": job_id,
                    "image": image.index,
                    "scores": {r.label: v for r, v in scores.as_dict().items()},
                    # JSON has no NaN (PostgreSQL refuses it): a broken model's confidence is null.
                    "minor": {"tag": image.minor.tag, "confidence": _finite(image.minor.confidence)},
                },
                code=RefusalReason.MINORS,
            )
        if self._notify is None:
            return
        attempt = BlockedAttempt(request.user_id, request.channel_id, str(reason), request.user_prompt, text=reason)
        try:
            await self._notify(request.guild_id, attempt)
        except Exception:  # the image stays withheld even if the mod-log post fails
            log.warning("could not post a withheld image of job %s to the mod-log", job_id, exc_info=True)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value
