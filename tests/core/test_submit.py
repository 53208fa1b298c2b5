"""The one path every request takes: room, gate, quota and record, then the defer and the followed job;
under a burst the defer comes first and a refusal is then told privately."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import discord
import pytest

from core.errors import BadImage, ContentRefused, QueueFull, QuotaRefused
from core.image_input import ImageInput, RemixSource
from core.metrics import Metrics
from core.pacer import Pacer
from core.replies import InteractionReply
from core.submit import submit_imagine
from jobs.model import Place, QueueSlot
from jobs.scheduler import NORMAL, PRIORITY
from moderation.audit import RefusalReason
from moderation.gate import Admission, ImageFacts, Where
from prompt.images import SourceImage
from prompt.options import ImagineOptions
from prompt.ratings import Rating
from quota.policy import QuotaAsk
from tests.support.interactions import FakeBot, FakeInteraction, FakeMember, http_error, roles
from tests.support.requests import sample_request
from tests.support.rules import ORDINARY

OPTIONS = ImagineOptions(prompt="1girl, smile")
ADMISSION = Admission(request=sample_request(count=2), rules=ORDINARY)


@dataclass
class Calls:
    names: list[str] = field(default_factory=list)


@dataclass
class FakeService:
    calls: Calls
    room_error: Exception | None = None
    quota_error: QuotaRefused | None = None
    submitted: list[dict[str, Any]] = field(default_factory=list)

    released: list[tuple[int, QueueSlot]] = field(default_factory=list)
    kept: dict[str, bytes] = field(default_factory=dict)  # remixes' kept source images

    def hold_seat(self, user_id: int, priority: int = NORMAL) -> QueueSlot:
        self.calls.names.append("hold_seat")
        if self.room_error is not None:
            raise self.room_error
        return QueueSlot(round=3, priority=priority)

    def release_seat(self, user_id: int, slot: QueueSlot) -> None:
        self.calls.names.append("release_seat")
        self.released.append((user_id, slot))

    async def source(self, digest: str) -> bytes | None:
        self.calls.names.append("source")
        return self.kept.get(digest)

    async def submit(self, request: object, place: Place, **kwargs: Any) -> SimpleNamespace:
        self.calls.names.append("submit")
        self.submitted.append({"request": request, "place": place, **kwargs})
        if self.quota_error is not None:
            raise self.quota_error
        return SimpleNamespace(id=5)


@dataclass
class FakeGate:
    calls: Calls
    images: list[ImageFacts | None] = field(default_factory=list)
    checked: list[tuple[ImagineOptions, Where]] = field(default_factory=list)
    allowed: list[tuple[Where, int | None]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    codes: list[str | None] = field(default_factory=list)
    error: Exception | None = None

    async def check(self, options: ImagineOptions, where: Where, *, image: ImageFacts | None = None) -> Admission:
        self.calls.names.append("check")
        self.checked.append((options, where))
        self.images.append(image)
        if self.error is not None:
            raise self.error
        return ADMISSION

    async def record_allowed(self, where: Where, admission: Admission, job_id: int | None = None) -> None:
        self.calls.names.append("record_allowed")
        self.allowed.append((where, job_id))

    async def record_quota_refusal(
        self, where: Where, admission: Admission, reason: str, *, code: str | None = None
    ) -> None:
        self.calls.names.append("record_quota_refusal")
        self.refusals.append(reason)
        self.codes.append(code)


@dataclass
class FakeMessenger:
    """``start`` keeps the follow() coroutine; the test runs it to see what it was given."""

    started: list[Coroutine[Any, Any, None]] = field(default_factory=list)
    followed: list[tuple[InteractionReply, object, object]] = field(default_factory=list)

    async def follow(self, reply: InteractionReply, job: object, rules: object) -> None:
        self.followed.append((reply, job, rules))

    def start(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self.started.append(coroutine)


@dataclass
class FakeImages:
    """core.image_input.ImageReader: a fitted source and what the tagger saw."""

    calls: Calls
    asked: list[RemixSource] = field(default_factory=list)

    async def remix_source(self, source: RemixSource) -> tuple[SourceImage, ImageFacts | None]:
        self.calls.names.append("remix_source")
        self.asked.append(source)
        return SourceImage(png=b"fitted", width=1152, height=896, digest="c" * 64), ImageFacts(
            Rating.GENERAL, ("1girl",)
        )


@dataclass
class Setup:
    service: FakeService
    gate: FakeGate
    messenger: FakeMessenger
    bot: FakeBot
    calls: Calls


def _setup(
    *, room_error: Exception | None = None, quota_error: QuotaRefused | None = None, pacer: Pacer | None = None
) -> Setup:
    pacer = pacer or Pacer()
    calls = Calls()
    service = FakeService(calls, room_error=room_error, quota_error=quota_error)
    gate = FakeGate(calls)
    messenger = FakeMessenger()
    config = SimpleNamespace(quota=SimpleNamespace(priority_roles=("vip",)))
    images = FakeImages(calls)
    bot = FakeBot(
        SimpleNamespace(
            service=service,
            gate=gate,
            messenger=messenger,
            config=config,
            pacer=pacer,
            images=images,
            metrics=Metrics(),
        )
    )
    return Setup(service, gate, messenger, bot, calls)


def _member() -> FakeInteraction:
    return FakeInteraction(user=FakeMember(id=7, name="alice", roles=roles((5, "VIP"))), token="tok")


async def _followed(messenger: FakeMessenger) -> tuple[InteractionReply, object, object]:
    (coroutine,) = messenger.started
    await coroutine
    (followed,) = messenger.followed
    return followed


async def test_an_accepted_request_is_recorded_then_deferred_and_followed() -> None:
    s = _setup()
    interaction = _member()
    await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS)
    assert s.calls.names == ["hold_seat", "check", "submit", "record_allowed"]
    assert interaction.response.deferred == [{"ephemeral": False, "thinking": True}]
    reply, job, rules = await _followed(s.messenger)
    assert (reply.private, reply.gone, reply.user_id) == (False, False, 7)
    assert (getattr(job, "id", None), rules) == (5, ORDINARY)
    assert s.gate.allowed == [(s.gate.checked[0][1], 5)]


async def test_the_job_is_submitted_with_who_asked_where_and_their_priority() -> None:
    s = _setup()
    interaction = _member()
    await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS)
    (submitted,) = s.service.submitted
    assert submitted["request"] is ADMISSION.request
    assert submitted["place"] == Place(7, "alice", 10, "Guild", 20, False)
    assert submitted["quota"] == QuotaAsk(user_id=7, guild_id=10, role_ids=(5,), images=2)
    assert submitted["priority"] == PRIORITY
    assert submitted["slot"] == QueueSlot(round=3, priority=PRIORITY)  # the seat held before deciding
    assert (submitted["interaction_id"], submitted["interaction_token"]) == (interaction.id, "tok")
    assert s.gate.checked == [(OPTIONS, Where(7, 10, 20, None, False))]
    await _followed(s.messenger)


async def test_a_member_without_a_priority_role_queues_normally() -> None:
    s = _setup()
    await submit_imagine(s.bot.as_bot(), FakeInteraction().as_interaction(), OPTIONS)
    assert s.service.submitted[0]["priority"] == NORMAL
    await _followed(s.messenger)


async def test_a_private_request_is_deferred_ephemerally() -> None:
    s = _setup()
    interaction = _member()
    await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS, private=True)
    assert interaction.response.deferred == [{"ephemeral": True, "thinking": True}]
    reply, _, _ = await _followed(s.messenger)
    assert reply.private is True


async def test_a_full_queue_refuses_before_the_gate_and_the_defer() -> None:
    s = _setup(room_error=QueueFull("The queue is full."))
    interaction = _member()
    with pytest.raises(QueueFull):
        await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS)
    assert s.calls.names == ["hold_seat"]
    assert not interaction.response.is_done()


async def test_a_quota_refusal_is_audited_and_raised_before_the_defer() -> None:
    s = _setup(quota_error=QuotaRefused("No images left today."))
    interaction = _member()
    with pytest.raises(QuotaRefused, match="No images left today."):
        await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS)
    assert s.calls.names == ["hold_seat", "check", "submit", "record_quota_refusal"]
    assert s.gate.refusals == ["No images left today."]
    assert not interaction.response.is_done()
    assert s.messenger.started == []


async def test_a_quota_refusal_is_audited_with_its_code() -> None:
    s = _setup(quota_error=QuotaRefused("No images left today.", RefusalReason.DAILY_QUOTA))
    with pytest.raises(QuotaRefused):
        await submit_imagine(s.bot.as_bot(), _member().as_interaction(), OPTIONS)
    assert s.gate.codes == [RefusalReason.DAILY_QUOTA]


async def test_a_failed_defer_still_follows_the_job_through_the_channel(caplog: pytest.LogCaptureFixture) -> None:
    s = _setup()
    interaction = _member()
    interaction.response.fail_with = http_error(404, 10062)
    with caplog.at_level(logging.WARNING, logger="core.submit"):
        await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS)
    reply, _, _ = await _followed(s.messenger)
    assert reply.gone is True
    assert "could not defer /imagine for 5" in caplog.text


def test_http_error_double_is_a_discord_http_exception() -> None:
    assert isinstance(http_error(), discord.HTTPException)


# ---- under a burst: answer first, decide after -------------------------------------------------


def _busy() -> Pacer:
    return Pacer(deciding=Pacer().busy_at)  # as many decisions running as make the bot busy


async def test_when_busy_the_answer_comes_before_the_decision_and_the_job_is_followed() -> None:
    s = _setup(pacer=_busy())
    interaction = _member()
    await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS)
    assert interaction.response.deferred == [{"ephemeral": False, "thinking": True}]
    assert s.calls.names == ["hold_seat", "check", "submit", "record_allowed"]
    reply, job, _ = await _followed(s.messenger)
    assert (reply.private, reply.gone, getattr(job, "id", None)) == (False, False, 5)


async def test_a_refusal_after_a_public_answer_deletes_it_and_tells_the_member_privately() -> None:
    s = _setup(quota_error=QuotaRefused("No images left today."), pacer=_busy())
    interaction = _member()
    await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS)  # told, not raised
    assert interaction.response.deferred == [{"ephemeral": False, "thinking": True}]
    assert interaction.original_deleted is True
    assert [(m.content, m.ephemeral) for m in interaction.followup.sent] == [("No images left today.", True)]
    assert interaction.edits == []  # nothing about the refused prompt was ever public
    assert s.gate.refusals == ["No images left today."]
    assert s.messenger.started == [] and s.gate.allowed == []


async def test_a_refusal_after_a_private_answer_edits_it() -> None:
    s = _setup(quota_error=QuotaRefused("No images left today."), pacer=_busy())
    interaction = _member()
    await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS, private=True)
    assert interaction.response.deferred == [{"ephemeral": True, "thinking": True}]
    assert interaction.edits == [{"content": "No images left today."}]
    assert interaction.original_deleted is False


async def test_a_full_queue_is_refused_privately_at_once_even_when_busy() -> None:
    s = _setup(room_error=QueueFull("The queue is full."), pacer=_busy())
    interaction = _member()
    with pytest.raises(QueueFull):
        await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS)
    assert not interaction.response.is_done()


def test_the_pacer_waits_out_the_budget_from_the_click_and_not_when_busy() -> None:
    pacer = Pacer(budget_s=0.5, busy_at=2)
    fresh = FakeInteraction().as_interaction()
    assert 0.4 < pacer.wait_s(fresh) <= 0.5
    old = FakeInteraction(interaction_id=discord.utils.time_snowflake(datetime.now(UTC) - timedelta(seconds=2)))
    assert pacer.wait_s(old.as_interaction()) == 0.0
    future = FakeInteraction(interaction_id=discord.utils.time_snowflake(datetime.now(UTC) + timedelta(seconds=9)))
    assert pacer.wait_s(future.as_interaction()) == 0.5  # a fast clock never stretches the budget
    with pacer.decision(), pacer.decision():
        assert pacer.wait_s(fresh) == 0.0
    assert pacer.deciding == 0


async def test_a_refusal_by_the_gate_gives_the_seat_back() -> None:
    s = _setup()
    s.gate.error = ContentRefused("Not here.")
    interaction = _member()
    with pytest.raises(ContentRefused):
        await submit_imagine(s.bot.as_bot(), interaction.as_interaction(), OPTIONS)
    assert s.calls.names == ["hold_seat", "check", "release_seat"]
    assert s.service.released == [(7, QueueSlot(round=3, priority=PRIORITY))]
    assert s.service.submitted == []


async def test_a_request_waiting_for_its_decision_is_answered_as_soon_as_the_bot_becomes_busy() -> None:
    pacer = Pacer(budget_s=5.0, busy_at=2)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiting = asyncio.ensure_future(pacer.until_answer(FakeInteraction().as_interaction(), never))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # a quiet bot waits for the decision
    with pacer.decision(), pacer.decision():
        await asyncio.wait_for(waiting, 1)  # busy now: answer first
    assert not pacer.busy.is_set()
    never.cancel()


async def test_a_remix_is_fitted_checked_with_its_image_and_submitted_with_its_source() -> None:
    s = _setup()
    remix = RemixSource(ImageInput("https://cdn.discordapp.com/a.png", 100, "a.png"), aspect=None)
    await submit_imagine(s.bot.as_bot(), _member().as_interaction(), OPTIONS, remix=remix)
    assert s.calls.names == ["hold_seat", "remix_source", "check", "submit", "record_allowed"]
    (checked, _where) = s.gate.checked[0]
    assert (checked.aspect, checked.source) == ("1152x896", "c" * 64)  # the fitted size wins
    assert s.gate.images == [ImageFacts(Rating.GENERAL, ("1girl",))]
    assert s.service.submitted[0]["source_png"] == b"fitted"
    await _followed(s.messenger)


async def test_a_reroll_of_a_remix_uses_the_kept_source_or_says_it_is_gone() -> None:
    s = _setup()
    s.service.kept["k" * 64] = b"kept"
    again = ImagineOptions(prompt="1girl", source="k" * 64)
    await submit_imagine(s.bot.as_bot(), _member().as_interaction(), again)
    assert s.service.submitted[0]["source_png"] == b"kept" and s.gate.images == [None]
    await _followed(s.messenger)
    gone = ImagineOptions(prompt="1girl", source="z" * 64)
    with pytest.raises(BadImage, match="no longer kept"):
        await submit_imagine(s.bot.as_bot(), _member().as_interaction(), gone)
    assert s.service.released  # the seat held while deciding is given back


async def test_each_refusal_is_counted_once_by_its_reason() -> None:
    quick, late = _setup(quota_error=QuotaRefused("No.")), _setup(quota_error=QuotaRefused("No."), pacer=_busy())
    full = _setup(room_error=QueueFull("The queue is full."))
    for s in (quick, full):
        with pytest.raises((QuotaRefused, QueueFull)):
            await submit_imagine(s.bot.as_bot(), _member().as_interaction(), OPTIONS)
    await submit_imagine(late.bot.as_bot(), _member().as_interaction(), OPTIONS)  # told after the answer
    for s, reason in ((quick, "quota"), (late, "quota"), (full, "queue_full")):
        registry = s.bot.as_bot().context.metrics.registry
        assert registry.get_sample_value("animagine_refusals_total", {"reason": reason}) == 1
