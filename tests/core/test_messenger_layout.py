"""What the messenger puts on a job's message: Components V2 layouts only (a V2 message takes no
content or embeds), a spoiler per image where the output check asks, the buttons as before."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import discord

from core.errors import JobCancelled, JobRequeued, UserFacingError
from core.messenger import CANCELLED, FORCED_PRIVATE_NOTE, RESTARTING, JobMessenger, _Late, _result_layout
from jobs.model import ActiveJob, GenerationResult, RenderedImage
from moderation.output_check import DeliveryPlan, Shown, Withheld
from prompt.ratings import Rating
from tests.fakediscord import components_v2
from tests.support.requests import sample_request


@dataclass
class FakeReply:
    private: bool = False
    forced_private: bool = False
    elsewhere: bool = False
    gone: bool = False
    user_id: int = 7
    locale: str = "en-US"
    link: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    edits: list[dict[str, Any]] = field(default_factory=list)

    async def edit_original(self, **fields: Any) -> None:
        self.edits.append(fields)


def _job(count: int = 2) -> ActiveJob:
    loop = asyncio.get_event_loop()
    return ActiveJob(id=31, request=sample_request(count=count), result=loop.create_future())


def _result(count: int = 2) -> GenerationResult:
    images = tuple(RenderedImage(b"png", 832, 1216, 1234 + i, "") for i in range(count))
    return GenerationResult(images, 3.0)


def _files(plan: DeliveryPlan) -> list[discord.File]:
    return [
        discord.File(io.BytesIO(b"png"), filename=f"animagine_{1234 + s.index}.png", spoiler=s.spoiler)
        for s in plan.shown
    ]


async def test_one_flagged_image_is_a_spoiler_and_the_other_is_not() -> None:
    plan = DeliveryPlan((Shown(0, spoiler=True), Shown(1, spoiler=False)), (), Rating.GENERAL)
    layout = _result_layout(cast(Any, FakeReply()), _job(), _result(), plan, _files(plan))
    components = layout.to_components()
    items = components_v2.gallery_items(components)
    assert [(i["media"]["url"], i.get("spoiler")) for i in items] == [
        ("attachment://SPOILER_animagine_1234.png", True),
        ("attachment://animagine_1235.png", False),
    ]
    header = components_v2.texts(components)[0]
    assert header.startswith("<@7>") and "shown as a spoiler" in header
    assert "res:delete:31:0" in components_v2.custom_ids(components)


async def test_a_forced_private_result_says_so_and_offers_dms_instead_of_delete() -> None:
    plan = DeliveryPlan((Shown(0, spoiler=False),), (), Rating.GENERAL)
    reply = FakeReply(private=True, forced_private=True)
    layout = _result_layout(cast(Any, reply), _job(1), _result(1), plan, _files(plan))
    ids = components_v2.custom_ids(layout.to_components())
    assert "res:dm:31:0" in ids and not any(i.startswith("res:delete:") for i in ids)
    assert FORCED_PRIVATE_NOTE in components_v2.texts(layout.to_components())[0]


async def test_with_an_image_withheld_there_are_no_buttons() -> None:
    plan = DeliveryPlan((Shown(1, spoiler=False),), (Withheld(0, Rating.EXPLICIT),), Rating.GENERAL)
    layout = _result_layout(cast(Any, FakeReply()), _job(), _result(), plan, _files(plan))
    assert components_v2.custom_ids(layout.to_components()) == []
    assert len(components_v2.gallery_items(layout.to_components())) == 1


async def _delivered(error: BaseException) -> dict[str, Any]:
    job = _job()
    job.result.set_exception(error)
    reply = FakeReply()
    await JobMessenger(cast(Any, None), 1.0).deliver(cast(Any, reply), job, cast(Any, None))
    (edit,) = reply.edits
    assert edit["content"] is None and edit["embed"] is None  # a V2 message takes neither
    return edit


async def test_an_error_a_restart_and_a_cancel_are_layouts_too() -> None:
    failed = await _delivered(UserFacingError("The worker ran out of memory."))
    text = components_v2.texts(failed["view"].to_components())
    assert text == ["❌ The worker ran out of memory. Nothing was counted against your quota."]
    assert failed["attachments"] == []  # the preview goes
    restarting = (await _delivered(JobRequeued()))["view"].to_components()
    assert components_v2.texts(restarting) == [RESTARTING]
    assert components_v2.custom_ids(restarting) == ["job:cancel:31"]
    cancelled = (await _delivered(JobCancelled()))["view"].to_components()
    assert components_v2.texts(cancelled) == [CANCELLED] and components_v2.custom_ids(cancelled) == []


@dataclass
class FakeChannel:
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def send(self, **fields: Any) -> None:
        self.sent.append(fields)


async def test_a_late_result_in_dms_carries_the_link_back_as_its_last_text() -> None:
    plan = DeliveryPlan((Shown(0, spoiler=False),), (), Rating.GENERAL)
    files = _files(plan)
    late = _Late(
        _result_layout(cast(Any, FakeReply()), _job(1), _result(1), plan, files), files, discord.AllowedMentions()
    )
    dm = FakeChannel()
    await late.send_to(cast(Any, dm), "↩️ You asked here: https://discord.com/channels/1/2")
    (sent,) = dm.sent
    assert components_v2.texts(sent["view"].to_components())[-1].endswith("channels/1/2")
    assert "content" not in sent and sent["files"] == files


async def test_a_japanese_members_result_is_in_japanese_with_the_same_button_ids() -> None:
    plan = DeliveryPlan((Shown(0, spoiler=True), Shown(1, spoiler=False)), (), Rating.GENERAL)
    english = _result_layout(cast(Any, FakeReply()), _job(), _result(), plan, _files(plan)).to_components()
    layout = _result_layout(cast(Any, FakeReply(locale="ja")), _job(), _result(), plan, _files(plan))
    components = layout.to_components()
    header, prompt, settings = components_v2.texts(components)[:3]
    assert header.startswith("<@7> ⚠️ 出力チェックで") and "スポイラー" in header
    assert prompt.startswith("**プロンプト**\n") and "1girl" in prompt  # the tags stay as written
    assert settings.startswith("-# シード値 1234, 1235 · サイズ 832x1216 · ステップ数 ")
    assert "CFG 7 · サンプラー Euler a" in settings
    assert settings.endswith("-# Animagine XL 3.1 · 品質プリセット: Standard v3.1")
    labels = [c.get("label") for _, c in components_v2.walk(components) if c["type"] == 2]
    assert labels[:2] == ["🔁 再生成", "📋 パラメーター"] and "🗑️ 削除" in labels
    assert components_v2.custom_ids(components) == components_v2.custom_ids(english)


async def test_a_forced_private_note_and_the_job_notices_follow_the_locale() -> None:
    plan = DeliveryPlan((Shown(0, spoiler=False),), (), Rating.GENERAL)
    reply = FakeReply(private=True, forced_private=True, locale="ja")
    layout = _result_layout(cast(Any, reply), _job(1), _result(1), plan, _files(plan))
    assert "🔒 この結果はあなたにだけ表示されています。" in components_v2.texts(layout.to_components())[0]
    labels = [c.get("label") for _, c in components_v2.walk(layout.to_components()) if c["type"] == 2]
    assert "📩 DMに送る" in labels
    for error, expected in [
        (JobCancelled(), "🚫 キャンセルしました。生成枠は消費されていません。"),
        (JobRequeued(), "⏸️ ボットを再起動しています。ジョブは保存済みで、復帰しだい再開します。"),
    ]:
        job = _job()
        job.result.set_exception(error)
        ja = FakeReply(locale="ja")
        await JobMessenger(cast(Any, None), 1.0).deliver(cast(Any, ja), job, cast(Any, None))
        assert components_v2.texts(ja.edits[0]["view"].to_components()) == [expected]


async def test_a_job_resumed_after_a_restart_writes_in_its_stored_locale() -> None:
    job = _job(1)
    record = SimpleNamespace(
        request=job.request, interaction_id=None, interaction_token=None, private=False, channel_nsfw=False, locale="ja"
    )
    messenger = JobMessenger(cast(Any, None), 1.0)
    followed: list[Any] = []

    async def follow(reply: Any, active: ActiveJob, rules: Any) -> None:
        followed.append(reply)

    async def rules_for(where: Any) -> Any:
        return None

    messenger.follow = follow  # type: ignore[method-assign,assignment]
    await messenger.resume(cast(Any, None), [cast(Any, SimpleNamespace(record=record, job=job))], rules_for)
    await messenger.drain(1.0)
    assert [reply.locale for reply in followed] == ["ja"]


class _NoCheck:
    async def review(self, job_id: int, request: Any, rules: Any, scores: Any) -> DeliveryPlan:
        return DeliveryPlan((), (), Rating.GENERAL)


async def test_a_result_without_images_is_a_generation_failure_not_the_output_checks() -> None:
    job = _job()
    job.result.set_result(GenerationResult((), 1.0))
    reply = FakeReply()
    messenger = JobMessenger(cast(Any, None), 1.0, output_check=cast(Any, _NoCheck()))
    assert await messenger._deliver_images(cast(Any, reply), job, job.result.result(), cast(Any, None)) == (
        "the generation made no image"
    )
    (edit,) = reply.edits
    assert components_v2.texts(edit["view"].to_components()) == [
        "❌ The image could not be generated (the error was logged). Nothing was counted against your quota."
    ]
