"""The request gate on a real database (SQLite and PostgreSQL), without Discord."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.errors import ContentRefused, InvalidOption, UserFacingError
from core.moderation_text import blocked_attempt_text
from db.audit import AuditLog
from db.engine import create_sessionmaker
from db.policies import PolicyStore
from moderation.audit import RefusalReason
from moderation.content import ContentFilter
from moderation.gate import BlockedAttempt, ImageFacts, RequestGate, Where
from moderation.policy import SERVER_WIDE, UserInstallPolicy
from prompt.options import (
    ImagineOptions,
    PromptLimits,
)
from prompt.ratings import Rating
from prompt.tags import TagDatabase

GUILD, CHANNEL, THREAD, MODLOG = 10, 20, 30, 99
ORDINARY = Where(user_id=1, guild_id=GUILD, channel_id=CHANNEL, parent_id=None, age_restricted=False)
ADULT = Where(user_id=1, guild_id=GUILD, channel_id=CHANNEL, parent_id=None, age_restricted=True)
IN_THREAD = Where(user_id=1, guild_id=GUILD, channel_id=THREAD, parent_id=CHANNEL, age_restricted=False)


@pytest.fixture(scope="module")
def content(tag_db: TagDatabase) -> ContentFilter:
    return ContentFilter.load(tag_db)


@pytest.fixture
async def parts(engine: AsyncEngine, content: ContentFilter, tag_db: TagDatabase):  # type: ignore[no-untyped-def]
    sessions = create_sessionmaker(engine)
    policies, audit = PolicyStore(sessions), AuditLog(sessions)
    posted: list[tuple[int, str]] = []

    async def post(channel_id: int, attempt: BlockedAttempt) -> None:
        # The gate hands over data; the post the bot would make is what the tests read.
        posted.append((channel_id, blocked_attempt_text(attempt)))

    gate = RequestGate(
        policies=policies, audit=audit, content=content, tags=tag_db, limits=PromptLimits(), post_modlog=post
    )
    return gate, policies, audit, posted


async def test_allowed_request_is_audited_with_the_applied_rating(parts) -> None:  # type: ignore[no-untyped-def]
    gate, _, audit, posted = parts
    admission = await gate.admit(ImagineOptions(prompt="smile, 1girl"), ORDINARY)
    assert admission.request.prompt.startswith("1girl, smile, safe,")
    (entry,) = await audit.recent(GUILD)
    assert (entry.kind, entry.decision, entry.rating) == ("generation", "allowed", "general")
    assert posted == []


async def test_content_refusal_is_audited_and_posted_to_the_modlog(parts) -> None:  # type: ignore[no-untyped-def]
    gate, policies, audit, posted = parts
    await policies.set_server(GUILD, modlog_channel_id=MODLOG)
    with pytest.raises(ContentRefused):
        await gate.admit(ImagineOptions(prompt="1girl, nude"), ORDINARY)
    (entry,) = await audit.recent(GUILD)
    assert (entry.kind, entry.decision) == ("refusal", "refused")
    assert entry.details["matched"]
    assert posted and posted[0][0] == MODLOG and "<@1>" in posted[0][1]


async def test_rating_refusal_is_audited_but_not_posted(parts) -> None:  # type: ignore[no-untyped-def]
    gate, policies, audit, posted = parts
    await policies.set_server(GUILD, modlog_channel_id=MODLOG)
    with pytest.raises(InvalidOption, match="the limit here is `sensitive`"):
        await gate.admit(ImagineOptions(prompt="1girl", rating="explicit"), ORDINARY)
    assert [e.kind for e in await audit.recent(GUILD)] == ["refusal"]
    assert posted == []


async def test_thread_inherits_parent_settings_and_blocklist(parts) -> None:  # type: ignore[no-untyped-def]
    gate, policies, _, _ = parts
    await policies.set_channel(GUILD, CHANNEL, max_rating=int(Rating.GENERAL))
    await policies.block(GUILD, CHANNEL, "spider", added_by=5)
    rules = await gate.rules_for(IN_THREAD)
    assert rules.max_rating is Rating.GENERAL
    with pytest.raises(ContentRefused, match="`spider`"):
        await gate.admit(ImagineOptions(prompt="1girl, (SPIDER:1.2)"), IN_THREAD)


async def test_age_restricted_channel_allows_explicit_but_never_minors(parts) -> None:  # type: ignore[no-untyped-def]
    gate, policies, _, _ = parts
    admission = await gate.admit(ImagineOptions(prompt="1girl, nude", rating="explicit"), ADULT)
    assert "explicit, nsfw" in admission.request.prompt
    with pytest.raises(ContentRefused, match="never allowed"):
        await gate.admit(ImagineOptions(prompt="1girl, child", rating="explicit"), ADULT)
    await policies.block(GUILD, SERVER_WIDE, "nude", added_by=5)
    with pytest.raises(ContentRefused, match="blocked"):
        await gate.admit(ImagineOptions(prompt="1girl, nude", rating="explicit"), ADULT)


async def test_a_request_the_quota_refuses_is_not_logged_as_allowed(parts) -> None:  # type: ignore[no-untyped-def]
    gate, _, audit, posted = parts
    admission = await gate.check(ImagineOptions(prompt="smile, 1girl"), ORDINARY)
    assert await audit.recent(GUILD) == []  # nothing yet: the quota decides next
    reason = "You have used all 5 of your images for today."
    await gate.record_quota_refusal(ORDINARY, admission, reason)
    (entry,) = await audit.recent(GUILD)
    assert (entry.kind, entry.decision, entry.reason) == ("quota", "refused", reason)
    await gate.record_allowed(ORDINARY, admission, job_id=7)
    latest = (await audit.recent(GUILD))[0]
    assert (latest.kind, latest.decision, latest.details) == ("generation", "allowed", {"job": 7})
    assert posted == []


async def test_the_modlog_poster_gets_the_refused_attempt_as_data(
    engine: AsyncEngine, content: ContentFilter, tag_db: TagDatabase
) -> None:
    sessions = create_sessionmaker(engine)
    policies = PolicyStore(sessions)
    attempts: list[tuple[int, BlockedAttempt]] = []

    async def post(channel_id: int, attempt: BlockedAttempt) -> None:
        attempts.append((channel_id, attempt))
        raise RuntimeError("the mod-log channel is gone")  # the refusal must stand anyway

    gate = RequestGate(policies=policies, audit=AuditLog(sessions), content=content, tags=tag_db, limits=PromptLimits())
    gate.set_modlog_poster(post)
    await policies.set_server(GUILD, modlog_channel_id=MODLOG)
    await policies.block(GUILD, SERVER_WIDE, "spider", added_by=5)
    with pytest.raises(ContentRefused) as refused:
        await gate.admit(ImagineOptions(prompt="1girl, spider"), ORDINARY)
    reason = "This server's moderators have blocked these tags here: `spider`."
    assert refused.value.message == reason
    assert attempts == [(MODLOG, BlockedAttempt(user_id=1, channel_id=CHANNEL, reason=reason, prompt="1girl, spider"))]


async def test_a_remix_source_rated_above_the_channel_is_refused_and_audited(parts) -> None:  # type: ignore[no-untyped-def]
    gate, policies, audit, posted = parts
    await policies.set_server(GUILD, modlog_channel_id=MODLOG)
    image = ImageFacts(Rating.QUESTIONABLE, ("1girl", "swimsuit"))
    with pytest.raises(ContentRefused, match=r"looks \*\*questionable\*\*.*up to \*\*sensitive\*\*"):
        await gate.check(ImagineOptions(prompt="1girl, beach", source="a" * 64), ORDINARY, image=image)
    (entry,) = await audit.recent(GUILD)
    assert (entry.kind, entry.decision, entry.rating) == ("refusal", "refused", "questionable")
    assert posted and posted[0][0] == MODLOG
    # Where the channel allows it, the same image is fine.
    await gate.check(ImagineOptions(prompt="1girl, beach", source="a" * 64), ADULT, image=image)


async def test_the_minors_rule_reads_the_image_tags_with_the_prompt(parts) -> None:  # type: ignore[no-untyped-def]
    gate, _, audit, _ = parts
    child = ImageFacts(Rating.GENERAL, ("1girl", "child", "smile"))
    with pytest.raises(ContentRefused, match="With your image: Sexual content involving minor"):
        await gate.check(ImagineOptions(prompt="1girl, nude", rating="explicit", source="a" * 64), ADULT, image=child)
    sexual = ImageFacts(Rating.EXPLICIT, ("1girl", "nude"))
    with pytest.raises(ContentRefused, match="minor"):
        await gate.check(ImagineOptions(prompt="1girl, loli", source="a" * 64), ADULT, image=sexual)
    assert [e.decision for e in await audit.recent(GUILD)] == ["refused", "refused"]
    # A child in a general picture with a harmless prompt is an ordinary remix.
    await gate.check(ImagineOptions(prompt="1girl, park", source="a" * 64), ORDINARY, image=child)


def _user_install_gate(parts, policy: UserInstallPolicy) -> RequestGate:  # type: ignore[no-untyped-def]
    gate, policies, audit, _ = parts
    return RequestGate(
        policies=policies,
        audit=audit,
        content=gate._content,
        tags=gate._tags,
        limits=PromptLimits(),
        user_installs=policy,
    )


async def test_a_user_install_is_held_to_discords_ceiling_and_the_admins_config(parts) -> None:  # type: ignore[no-untyped-def]
    _, policies, _, _ = parts
    await policies.set_server(GUILD, max_rating=int(Rating.GENERAL))  # the server's own settings do not apply
    lenient = _user_install_gate(parts, UserInstallPolicy(max_rating=Rating.EXPLICIT))
    foreign = Where(user_id=1, guild_id=None, channel_id=77, parent_id=None, age_restricted=False, user_install=True)
    adult = Where(user_id=1, guild_id=None, channel_id=78, parent_id=None, age_restricted=True, user_install=True)
    assert (await lenient.rules_for(foreign)).max_rating is Rating.SENSITIVE  # Discord's ceiling
    assert (await lenient.rules_for(adult)).max_rating is Rating.EXPLICIT
    strict = _user_install_gate(parts, UserInstallPolicy())  # the default: sensitive
    assert (await strict.rules_for(adult)).max_rating is Rating.SENSITIVE
    assert (await strict.rules_for(foreign)).default_rating is Rating.GENERAL
    with pytest.raises(InvalidOption, match="sensitive"):
        await strict.check(ImagineOptions(prompt="1girl", rating="questionable"), adult)


async def test_a_user_install_uses_the_configured_blocklist(parts) -> None:  # type: ignore[no-untyped-def]
    gate = _user_install_gate(parts, UserInstallPolicy(blocklist=frozenset({"spider"})))
    place = Where(user_id=1, guild_id=None, channel_id=77, parent_id=None, age_restricted=False, user_install=True)
    with pytest.raises(ContentRefused, match="spider"):
        await gate.check(ImagineOptions(prompt="1girl, spider"), place)
    await gate.check(ImagineOptions(prompt="1girl, cat"), place)


async def test_a_remix_source_showing_a_blocked_tag_is_refused(parts) -> None:  # type: ignore[no-untyped-def]
    gate, policies, _, _ = parts
    await policies.block(GUILD, SERVER_WIDE, "spider", added_by=5)
    image = ImageFacts(Rating.GENERAL, ("1girl", "spider"))
    with pytest.raises(ContentRefused, match="Your image shows tags blocked here: `spider`"):
        await gate.check(ImagineOptions(prompt="1girl, garden", source="a" * 64), ORDINARY, image=image)


async def _code_of(gate: RequestGate, audit: AuditLog, options: ImagineOptions, **check: Any) -> str | None:
    with pytest.raises(UserFacingError):
        await gate.check(options, check.pop("where", ORDINARY), **check)
    return (await audit.recent(GUILD, limit=1))[0].code


async def test_each_refusal_is_audited_with_its_code(parts) -> None:  # type: ignore[no-untyped-def]
    gate, policies, audit, _ = parts
    await policies.block(GUILD, SERVER_WIDE, "spider", added_by=5)
    remix = ImagineOptions(prompt="1girl, garden", source="a" * 64)
    cases: list[tuple[ImagineOptions, dict[str, Any], RefusalReason]] = [
        (ImagineOptions(prompt="1girl", aspect="9:99"), {}, RefusalReason.INVALID),
        (ImagineOptions(prompt="1girl", rating="superlewd"), {}, RefusalReason.INVALID),  # not a rating
        (ImagineOptions(prompt="1girl", rating="explicit"), {}, RefusalReason.RATING),
        (ImagineOptions(prompt="1girl, nude"), {}, RefusalReason.SEXUAL),
        (ImagineOptions(prompt="1girl, child", rating="explicit"), {"where": ADULT}, RefusalReason.MINORS),
        (ImagineOptions(prompt="1girl, spider"), {}, RefusalReason.BLOCKED_TAGS),
        (remix, {"image": ImageFacts(Rating.EXPLICIT, ("1girl",))}, RefusalReason.RATING),
        (remix, {"image": ImageFacts(Rating.SENSITIVE, ("nude",))}, RefusalReason.SEXUAL),
        (
            ImagineOptions(prompt="1girl, nude", rating="explicit", source="a" * 64),
            {"where": ADULT, "image": ImageFacts(Rating.GENERAL, ("child",))},
            RefusalReason.MINORS,
        ),
        (remix, {"image": ImageFacts(Rating.GENERAL, ("spider",))}, RefusalReason.BLOCKED_TAGS),
    ]
    for options, check, code in cases:
        assert await _code_of(gate, audit, options, **check) == code, options


async def test_a_quota_refusal_is_audited_with_the_quotas_code(parts) -> None:  # type: ignore[no-untyped-def]
    gate, _, audit, _ = parts
    admission = await gate.check(ImagineOptions(prompt="smile, 1girl"), ORDINARY)
    await gate.record_quota_refusal(ORDINARY, admission, "Slow down.", code=RefusalReason.COOLDOWN)
    await gate.record_quota_refusal(ORDINARY, admission, "Slow down.")  # no code: /stats reads the sentence
    assert [(e.reason, e.code) for e in await audit.recent(GUILD)] == [
        ("Slow down.", None),
        ("Slow down.", RefusalReason.COOLDOWN),
    ]
