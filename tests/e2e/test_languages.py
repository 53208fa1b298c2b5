"""Messages in the reader's language, end to end (real bot, local Discord): a member whose client
is Japanese gets a refusal from /imagine and the /quota answer in Japanese, from the ja catalog,
and their job's progress, result and button labels in Japanese (the buttons work as ever);
a member in English gets the same English as ever; the mod-log post follows the server's
language, not the member's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.e2e.answers import private_text
from tests.e2e.conftest import World, running_world
from tests.e2e.pictures import pngs
from tests.fakediscord import components_v2
from tests.fakediscord.payloads import guild_create_payload
from tests.fakediscord.state import Interaction, Message, User

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    quota = {"daily_images": 5, "max_active": 2, "cooldown_s": 0}
    generation = {"progress_interval_s": 0.3}  # progress edits often enough to read one
    workdir = tmp_path_factory.mktemp("bot")
    async with running_world(request.param, workdir, fast_model_dir, quota=quota, generation=generation) as world:
        yield world


def japanese_member(world: World) -> User:
    member = world.server.add_user("kenji")
    member.locale = "ja"  # the member's Discord client is in Japanese
    world.server.add_member(world.guild.id, member.id)
    return member


async def test_a_japanese_member_is_refused_in_japanese_and_an_english_one_in_english(world: World) -> None:
    kenji = japanese_member(world)
    options = {"prompt": "1girl, smile", "rating": "explicit"}
    text = await private_text(await world.server.invoke(kenji, world.general, "imagine", options), timeout=5)
    # The rating names stay as the model and the choices know them.
    assert text == (
        "このチャンネルは年齢制限チャンネルではないため、レーティング `explicit` は使えません。"
        "ここでの上限は `sensitive` です。"
    )
    english = await private_text(await world.server.invoke(world.alice, world.general, "imagine", options), timeout=5)
    assert english == (
        "The rating `explicit` is not allowed in this channel (it is not age-restricted); "
        "the limit here is `sensitive`."
    )


async def test_quota_answers_in_the_members_language(world: World) -> None:
    kenji = japanese_member(world)
    text = await private_text(await world.server.invoke(kenji, world.general, "quota"), timeout=5)
    first, second = text.split("\n")
    assert first.startswith("🎟️ 今日の残り枚数: **5**枚 / 5枚（<t:") and first.endswith(":R>にリセット）")
    assert second == "待機中・生成中のジョブ: 0件（同時に最大2件）"


async def test_the_modlog_post_is_in_the_servers_language(world: World) -> None:
    modlog = await private_text(
        await world.server.invoke(world.mod, world.general, "mod modlog", {"channel": world.modlog.id}), timeout=5
    )
    assert modlog == f"Blocked attempts will be posted in <#{world.modlog.id}>."  # the moderator's English
    # The server's language is Japanese (a Community server's "primary language").
    world.guild.locale = "ja"
    await world.server.dispatch("GUILD_UPDATE", guild_create_payload(world.server.state, world.guild))
    ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl, (NUDE:1.3), smile"})
    alice_reads = await private_text(ix, timeout=5)
    assert alice_reads.startswith("This channel does not allow sexual content")  # Alice reads English
    posted = await world.server.wait_for_message(
        lambda m: m.channel_id == world.modlog.id and "/imagine" in m.content, timeout=5
    )
    assert posted.content == (
        f"🚫 <#{world.general.id}> で <@{world.alice.id}> の `/imagine` をブロックしました: "
        "このチャンネルでは性的な内容は許可されていません（該当: `nude`）。\n"
        "プロンプト: `1girl, (NUDE:1.3), smile`"
    )


def labels(message: Message) -> list[str]:
    return [str(c.get("label")) for _, c in components_v2.walk(message.components) if c["type"] == 2]


async def finished(ix: Interaction) -> Message:
    assert (await ix.wait_response(timeout=5)).type == 5  # "thinking"
    await ix.wait_for(lambda i: bool(pngs(i)), timeout=120)
    assert ix.original is not None and ix.original.v2
    return ix.original


async def test_a_japanese_members_progress_result_and_buttons_are_in_japanese(world: World) -> None:
    kenji = japanese_member(world)
    options = {"prompt": "1girl, smile", "steps": 12, "seed": 5, "aspect": "832x1216"}
    result = await finished(await world.server.invoke(kenji, world.general, "imagine", options))
    statuses = [Message(id=0, channel_id=0, components=v["components"]) for v in result.versions[:-1]]
    assert any("🎨 生成中… ステップ " in s.text for s in statuses), [s.text for s in statuses]
    assert all(labels(s) == ["キャンセル"] and s.custom_ids[0].startswith("job:cancel:") for s in statuses)

    assert f"<@{kenji.id}>" in result.text and "**プロンプト**\n1girl, smile" in result.text  # tags as typed
    assert "-# シード値 5 · サイズ 832x1216 · ステップ数 12 · CFG " in result.text
    assert "品質プリセット: " in result.text
    assert labels(result) == [
        "🔁 再生成",
        "🎲 バリエーション",
        "⬆️ アップスケール ×1.5",
        "📋 パラメーター",
        "🗑️ 削除",
    ]
    job_id = int(result.custom_ids[0].split(":")[2])
    assert result.custom_ids == [f"res:{a}:{job_id}:0" for a in ("reroll", "vary", "up", "params", "delete")]

    # The buttons work for them, and answer in Japanese too.
    params = await private_text(await world.server.click(kenji, result, f"res:params:{job_id}:0"), timeout=5)
    assert params.startswith("**プロンプト**\n```\n1girl, smile, ") and "/imagine prompt:1girl, smile" in params
    assert "\n**ネガティブプロンプト**\n```\n" in params and "**同じ画像をもう一度作る**" in params
    assert "シード値: 5 · サイズ: 832x1216 · ステップ数: 12 · CFG: " in params
    rerolled = await finished(await world.server.click(kenji, result, f"res:reroll:{job_id}:0"))
    assert labels(rerolled)[0] == "🔁 再生成" and "**プロンプト**\n1girl, smile" in rerolled.text
    deleted = await private_text(await world.server.click(kenji, rerolled, rerolled.custom_ids[-1]), timeout=5)
    assert deleted == "🗑️ 削除しました。" and rerolled.deleted
