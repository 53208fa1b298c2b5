"""The Components V2 layouts of a job's message, checked against Discord's limits with the local
Discord's own rules (tests/fakediscord/components_v2.py)."""

from __future__ import annotations

import re
from typing import Any, cast

import discord
import pytest

from core.job_items import CancelButton
from core.messenger import status_text
from core.result_layout import (
    COMPONENT_LIMIT,
    GALLERY_LIMIT,
    INVALID_FORM_BODY,
    TEXT_LIMIT,
    Picture,
    add_note,
    clip,
    edit_with_text,
    late_link_text,
    notice_layout,
    result_header_text,
    result_layout,
    status_layout,
)
from core.result_view import ResultButton, result_buttons
from jobs.model import ActiveJob, GenerationResult, RenderedImage
from tests.fakediscord import components_v2
from tests.support.interactions import http_error
from tests.support.requests import sample_request

# Every character markdown escaping doubles, and tags joined as members write them.
LONGEST_PROMPT = ", ".join(f"very_long_tag_{i}*with~markup|" for i in range(2000))
LONGEST_NEGATIVE = ", ".join(f"bad_thing_{i}" for i in range(2000))


def _result(count: int) -> GenerationResult:
    images = tuple(RenderedImage(png=b"", width=832, height=1216, seed=1234 + i, infotext="") for i in range(count))
    return GenerationResult(images=images, seconds=12.34)


def _biggest() -> tuple[discord.ui.LayoutView, list[Picture]]:
    request = sample_request(
        prompt=LONGEST_PROMPT, negative=LONGEST_NEGATIVE, count=4, variation_seed=987654321, variation_strength=0.35
    )
    pictures = [Picture(f"SPOILER_animagine_{1234 + i}.png", spoiler=True) for i in range(4)]
    header = result_header_text(7, any_spoiler=True, forced_private_note="🔒 " + "x" * 1000)
    buttons = result_buttons(42, 4, deletable=True, to_dms=True)
    view = result_layout(header, request, _result(4), pictures, buttons)
    add_note(view, late_link_text("https://discord.com/channels/123456789012345678/123456789012345678"))
    return view, pictures


def _walk(view: discord.ui.LayoutView) -> list[dict[str, Any]]:
    return [c for _, c in components_v2.walk(view.to_components())]


def test_the_biggest_result_is_within_discords_limits() -> None:
    view, pictures = _biggest()
    components = view.to_components()
    problems = components_v2.message_problems(
        v2=True, content="", embeds=[], components=components, attachments=[p.filename for p in pictures]
    )
    assert problems == []
    assert len(_walk(view)) <= COMPONENT_LIMIT
    assert sum(len(text) for text in components_v2.texts(components)) <= TEXT_LIMIT
    assert len(components_v2.gallery_items(components)) == 4 <= GALLERY_LIMIT
    # Button labels count towards Discord's text total too, by some readings: still within it.
    labels = sum(len(c.get("label") or "") for c in _walk(view))
    assert sum(len(text) for text in components_v2.texts(components)) + labels <= TEXT_LIMIT
    assert len(components_v2.custom_ids(components)) == 12  # re-roll, parameters, U1-4, V1-4, delete, DMs
    assert all(len(c.get("components") or []) <= 5 for c in _walk(view) if c["type"] == 1)


def test_the_prompt_is_cut_cleanly_at_a_tag_with_markdown_escaped() -> None:
    view, _ = _biggest()
    (_, prompt, _, _) = components_v2.texts(view.to_components())[:4]
    prompt_part, negative_part = prompt.split("\n**Negative prompt**\n")
    assert prompt_part.startswith("**Prompt**\nvery\\_long\\_tag\\_0\\*with\\~markup\\|, ")
    assert prompt_part.endswith("markup\\|…") and negative_part.endswith("…")
    assert re.fullmatch(r"bad\\_thing\\_\d+", negative_part[:-1].split(", ")[-1])


def test_clip_leaves_short_text_whole_and_never_ends_in_half_an_escape() -> None:
    assert clip("1girl, long_hair", 100) == "1girl, long\\_hair"
    for limit in range(5, 40):
        cut = clip("a_b_c_d_e_f_g_h_i_j_k_l_m_n_o_p_q_r_s_t", limit)
        assert len(cut) <= limit and cut.endswith("…") and not cut[:-1].endswith("\\")


def test_each_image_is_a_spoiler_only_where_the_output_check_asks() -> None:
    pictures = [Picture("SPOILER_animagine_1.png", spoiler=True), Picture("animagine_2.png")]
    view = result_layout("<@7>", sample_request(count=2), _result(2), pictures, result_buttons(1, 2))
    items = components_v2.gallery_items(view.to_components())
    assert [(i["media"]["url"], i.get("spoiler", False)) for i in items] == [
        ("attachment://SPOILER_animagine_1.png", True),
        ("attachment://animagine_2.png", False),
    ]


def test_the_result_text_shows_the_prompt_and_every_setting() -> None:
    request = sample_request(negative="lowres, bad_hands", hires=True)
    view = result_layout("<@7>", request, _result(1), [Picture("animagine_1234.png")])
    header, prompt, settings = components_v2.texts(view.to_components())
    assert header == "<@7>" and "bad\\_hands" in prompt
    assert settings == (
        "-# Seed 1234 · Size 1248x1824 (upscaled ×1.5) · Steps 28 · CFG 7 · Sampler Euler a · Time 12.3 s\n"
        "-# Animagine XL 3.1 · quality preset: Standard v3.1"
    )
    assert components_v2.custom_ids(view.to_components()) == []  # no buttons: no separator either
    assert all(c["type"] != 14 for c in _walk(view))


def test_the_buttons_keep_the_custom_ids_of_results_posted_before_v2() -> None:
    ids = components_v2.custom_ids(
        result_layout("", sample_request(), _result(1), [], result_buttons(5, 1)).to_components()
    )
    assert ids == ["res:reroll:5:0", "res:vary:5:0", "res:up:5:0", "res:params:5:0", "res:delete:5:0"]
    template: re.Pattern[str] = ResultButton.__discord_ui_compiled_template__
    assert all(template.fullmatch(i) for i in ids)


def test_the_status_shows_the_preview_and_cancel() -> None:
    view = status_layout("🎨 Generating… step 3/28", preview="preview.jpg", controls=[CancelButton(9)])
    components = view.to_components()
    assert components_v2.texts(components) == ["🎨 Generating… step 3/28"]
    assert [i["media"]["url"] for i in components_v2.gallery_items(components)] == ["attachment://preview.jpg"]
    assert components_v2.custom_ids(components) == ["job:cancel:9"]
    assert view.has_components_v2() and view.timeout is None
    bare = status_layout("⏳ Queued").to_components()
    assert components_v2.gallery_items(bare) == [] and components_v2.custom_ids(bare) == []


def test_a_notice_is_one_text_display() -> None:
    assert notice_layout("❌ no").to_components() == [{"type": 10, "content": "❌ no"}]


class _Interaction:
    def __init__(self, refuse_content: bool) -> None:
        self.refuse_content = refuse_content
        self.edits: list[dict[str, Any]] = []

    async def edit_original_response(self, **fields: Any) -> None:
        if self.refuse_content and fields.get("content"):
            raise http_error(400, INVALID_FORM_BODY)
        self.edits.append(fields)


async def test_text_on_an_ordinary_message_is_content() -> None:
    interaction = _Interaction(refuse_content=False)
    await edit_with_text(cast(discord.Interaction[Any], interaction), "❌ oops")
    assert interaction.edits == [{"content": "❌ oops", "embed": None, "attachments": [], "view": None}]


async def test_text_on_a_v2_message_becomes_a_text_display() -> None:
    interaction = _Interaction(refuse_content=True)
    await edit_with_text(cast(discord.Interaction[Any], interaction), "❌ oops")
    (edit,) = interaction.edits
    assert edit["view"].to_components() == [{"type": 10, "content": "❌ oops"}] and edit["attachments"] == []


async def test_other_refusals_are_raised() -> None:
    class Refusing(_Interaction):
        async def edit_original_response(self, **fields: Any) -> None:
            raise http_error(403, 50013)

    with pytest.raises(discord.HTTPException):
        await edit_with_text(cast(discord.Interaction[Any], Refusing(False)), "❌ oops")


def test_result_buttons_are_labelled_in_the_members_locale_with_the_same_ids() -> None:
    english = result_buttons(42, 1, deletable=True, to_dms=True)
    japanese = result_buttons(42, 1, deletable=True, to_dms=True, locale="ja")
    korean = result_buttons(42, 1, deletable=True, to_dms=True, locale="ko")
    assert [b.item.label for b in japanese] == [
        "🔁 再生成",
        "🎲 バリエーション",
        "⬆️ アップスケール ×1.5",
        "📋 パラメーター",
        "🗑️ 削除",
        "📩 DMに送る",
    ]
    assert korean[0].item.label == "🔁 다시 생성"
    assert english[0].item.label == "🔁 Re-roll"
    assert [b.item.custom_id for b in japanese] == [b.item.custom_id for b in english]
    assert CancelButton(9, "ja").item.label == "キャンセル" and CancelButton(9).item.label == "Cancel"


def test_a_japanese_members_status_and_late_link() -> None:
    job = ActiveJob(id=1, request=sample_request(), result=cast(Any, None))
    assert status_text(3, job, locale="ja") == "⏳ 待機中: 待機列の3番目です（前に2枚）。"
    assert status_text(2, job, 40.2, locale="ja") == "⏳ 待機中: 待機列の2番目です（前に1枚）· 待ち時間は約40秒です。"
    assert status_text(0, job, locale="zh-TW") == "🎨 正在開始…"
    assert status_text(3, job) == "⏳ Queued: you are #3 in line (2 images ahead of yours)."
    assert (
        late_link_text("https://discord.com/channels/1/2", "ja") == "↩️ 依頼した場所: https://discord.com/channels/1/2"
    )
    header = result_header_text(7, any_spoiler=True, forced_private_note=None, locale="ko")
    assert header.startswith("<@7> ⚠️ 출력 검사에서")
