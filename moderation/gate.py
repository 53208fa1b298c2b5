"""Every request passes here before it is queued: channel rules, content rules, blocklist, audit.

A refusal is recorded in the audit log (and, for content, posted to the mod-log channel) and
raised as a UserFacingError whose message tells the member why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.errors import ContentRefused, InvalidOption
from core.text import Message, t
from moderation.audit import AuditTrail, RefusalReason
from moderation.content import MINORS_REASON, ContentFilter, ContentVerdict
from moderation.policy import ChannelRules, PolicySettings, UserInstallPolicy, effective_rules
from moderation.stores import PolicyStore
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.ratings import Rating
from prompt.request import (
    GenerationRequest,
    build_request,
)
from prompt.tags import TagDatabase

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BlockedAttempt:
    """A refused request, for the mod-log channel; ``core.client`` writes the post."""

    user_id: int
    channel_id: int
    reason: str  # what the member was told, in English
    prompt: str  # the member's prompt, as the refusal's audit entry has it
    # The same, for the mod-log post in the server's language (not part of what the attempt is).
    text: Message = field(default="", compare=False)


# (mod-log channel id, what to post there)
ModlogPoster = Callable[[int, BlockedAttempt], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Where:
    """Who asks, and in which channel (with what Discord says about it)."""

    user_id: int
    guild_id: int | None
    channel_id: int
    parent_id: int | None  # a thread's parent channel: its settings and blocklist apply
    age_restricted: bool
    # Through the member's own install, where the bot is not (a DM, a group DM, another server).
    user_install: bool = False


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What the tagger saw in a member's image (a remix's source), when the output check is on:
    the image is held to the channel's rating and to the content rules like a prompt."""

    rating: Rating
    tags: tuple[str, ...]  # its general and character tags, Danbooru names


@dataclass(frozen=True, slots=True)
class Admission:
    request: GenerationRequest
    rules: ChannelRules


class RequestGate:
    def __init__(
        self,
        *,
        policies: PolicyStore,
        audit: AuditTrail,
        content: ContentFilter,
        tags: TagDatabase,
        limits: PromptLimits,
        post_modlog: ModlogPoster | None = None,
        user_installs: UserInstallPolicy | None = None,
    ) -> None:
        self._policies = policies
        self._audit = audit
        self._content = content
        self._tags = tags
        self._limits = limits
        self._post_modlog = post_modlog
        self._user_installs = user_installs or UserInstallPolicy()

    def set_modlog_poster(self, post_modlog: ModlogPoster) -> None:
        """The Discord client is created after the gate; it hands in its poster then."""
        self._post_modlog = post_modlog

    async def rules_for(self, where: Where) -> ChannelRules:
        if where.user_install:  # Discord's ceiling from the channel's flag, then the admin's config
            policy = self._user_installs
            return effective_rules(
                age_restricted=where.age_restricted,
                server=PolicySettings(max_rating=policy.max_rating),
                channel=PolicySettings(),
                blocklist=policy.blocklist,
            )
        if where.guild_id is None:  # DMs: Discord's ceiling only
            return effective_rules(age_restricted=False, server=PolicySettings(), channel=PolicySettings())
        settings = await self._policies.guild(where.guild_id)
        channel = settings.channel(where.channel_id)
        if channel == PolicySettings() and where.parent_id is not None:
            channel = settings.channel(where.parent_id)
        return effective_rules(
            age_restricted=where.age_restricted,
            server=settings.server,
            channel=channel,
            blocklist=settings.blocked_in(where.channel_id, where.parent_id),
        )

    async def admit(self, options: ImagineOptions, where: Where) -> Admission:
        """check() and record the request as allowed."""
        admission = await self.check(options, where)
        await self.record_allowed(where, admission)
        return admission

    async def check(self, options: ImagineOptions, where: Where, *, image: ImageFacts | None = None) -> Admission:
        """Channel rules, content rules, blocklist (and a remix's image); refusals are audited (and
        raised). An allowed request is audited by the caller with record_allowed once it is really
        accepted (the quota comes after this), so the log never says "allowed" for a request that
        was not."""
        rules = await self.rules_for(where)
        try:
            request = build_request(
                options,
                limits=self._limits,
                user_id=where.user_id,
                guild_id=where.guild_id,
                channel_id=where.channel_id,
                rules=rules,
                tags=self._tags,
            )
        except InvalidOption as exc:
            code = _invalid_code(exc, options, rules)
            await self._refused(where, options.prompt, exc.text, code, rating=options.rating, notify=False)
            raise
        sexual_context = Rating.parse(request.rating) >= Rating.QUESTIONABLE
        verdict = self._content.check(
            request.user_prompt, request.user_negative, allow_sexual=rules.allows_sexual, sexual_context=sexual_context
        )
        if not verdict.allowed:
            reason = verdict.text or verdict.reason or t("This prompt is not allowed here.")
            code = _verdict_code(verdict)
            await self._refused(
                where, request.user_prompt, reason, code, rating=request.rating, matched=verdict.matched
            )
            raise ContentRefused(reason)
        blocked = self._content.blocked(request.user_prompt, request.user_negative, rules.blocklist)
        if blocked:
            listed = ", ".join(f"`{tag}`" for tag in blocked)
            reason = t("This server's moderators have blocked these tags here: {tags}.", tags=listed)
            code = RefusalReason.BLOCKED_TAGS
            await self._refused(where, request.user_prompt, reason, code, rating=request.rating, matched=blocked)
            raise ContentRefused(reason)
        if image is not None:
            await self._check_image(where, request, rules, image)
        return Admission(request, rules)

    async def _check_image(
        self, where: Where, request: GenerationRequest, rules: ChannelRules, image: ImageFacts
    ) -> None:
        """A remix's source: no higher rating than the channel allows, and the content rules read
        its tags together with the prompt (a picture of a child with a sexual prompt, or the
        other way round, is refused just as the tags would be)."""
        if image.rating > rules.max_rating:
            reason = t(
                "Your image looks **{rating}**; this channel allows images up to **{limit}**, "
                "so it cannot be remixed here.",
                rating=image.rating.label,
                limit=rules.max_rating.label,
            )
            await self._refused(where, request.user_prompt, reason, RefusalReason.RATING, rating=image.rating.label)
            raise ContentRefused(reason)
        sexual = max(Rating.parse(request.rating), image.rating) >= Rating.QUESTIONABLE
        together = ", ".join([request.user_prompt, *image.tags])
        verdict = self._content.check(
            together, request.user_negative, allow_sexual=rules.allows_sexual, sexual_context=sexual
        )
        if not verdict.allowed:
            reason = t(
                "With your image: {reason}",
                reason=verdict.text or verdict.reason or t("this remix is not allowed here."),
            )
            code = _verdict_code(verdict)
            await self._refused(
                where, request.user_prompt, reason, code, rating=request.rating, matched=verdict.matched
            )
            raise ContentRefused(reason)
        blocked = self._content.blocked(", ".join(image.tags), "", rules.blocklist)
        if blocked:
            listed = ", ".join(f"`{tag}`" for tag in blocked)
            reason = t("Your image shows tags blocked here: {tags}.", tags=listed)
            code = RefusalReason.BLOCKED_TAGS
            await self._refused(where, request.user_prompt, reason, code, rating=request.rating, matched=blocked)
            raise ContentRefused(reason)

    async def record_allowed(self, where: Where, admission: Admission, job_id: int | None = None) -> None:
        request = admission.request
        await self._audit.record(
            "generation",
            user_id=where.user_id,
            guild_id=where.guild_id,
            channel_id=where.channel_id,
            decision="allowed",
            prompt=request.prompt,
            rating=request.rating,
            details={"job": job_id} if job_id is not None else None,
        )

    async def record_quota_refusal(
        self, where: Where, admission: Admission, reason: str, *, code: str | None = None
    ) -> None:
        """Not a moderation matter (no mod-log post), but the log shows what happened to the request.
        ``code``: the quota's RefusalReason (without it, /stats reads the sentence)."""
        await self._audit.record(
            "quota",
            user_id=where.user_id,
            guild_id=where.guild_id,
            channel_id=where.channel_id,
            decision="refused",
            reason=reason,
            prompt=admission.request.user_prompt,
            rating=admission.request.rating,
            code=code,
        )

    async def _refused(
        self,
        where: Where,
        prompt: str,
        reason: Message,
        code: RefusalReason,
        *,
        rating: str | None,
        matched: tuple[str, ...] = (),
        notify: bool = True,
    ) -> None:
        await self._audit.record(
            "refusal",
            user_id=where.user_id,
            guild_id=where.guild_id,
            channel_id=where.channel_id,
            decision="refused",
            reason=str(reason),  # the audit log is in English
            prompt=prompt,
            rating=rating,
            details={"matched": list(matched)},
            code=code,
        )
        if notify:
            attempt = BlockedAttempt(where.user_id, where.channel_id, str(reason), prompt, text=reason)
            await self.post_to_modlog(where.guild_id, attempt)

    async def post_to_modlog(self, guild_id: int | None, attempt: BlockedAttempt) -> None:
        """Post ``attempt`` in the server's mod-log channel, if it has one (a refused prompt here,
        an image the output check withheld for minors there)."""
        if guild_id is None or self._post_modlog is None:
            return
        modlog = (await self._policies.guild(guild_id)).modlog_channel_id
        if modlog is None:
            return
        try:
            await self._post_modlog(modlog, attempt)
        except Exception:  # the refusal stands even if the mod-log channel is gone
            log.warning("could not post to mod-log channel %s", modlog, exc_info=True)


def _verdict_code(verdict: ContentVerdict) -> RefusalReason:
    """The content filter refuses for minors or else for sexual content (asked for outright, or by
    negating safety tags)."""
    return RefusalReason.MINORS if verdict.reason == MINORS_REASON else RefusalReason.SEXUAL


def _invalid_code(exc: InvalidOption, options: ImagineOptions, rules: ChannelRules) -> RefusalReason:
    """A rating above the channel's limit is refused as an invalid option, but counted apart."""
    if exc.option != "rating" or options.rating is None:
        return RefusalReason.INVALID
    try:
        over = Rating.parse(options.rating) > rules.max_rating
    except ValueError:  # an unknown label
        return RefusalReason.INVALID
    return RefusalReason.RATING if over else RefusalReason.INVALID
