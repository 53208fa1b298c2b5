"""The local Discord's Components V2 rules, through its REST API (raw requests, as any client)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.fakediscord import Channel, FakeDiscord

TOKEN = "test-token"
V2 = 1 << 15
PNG = b"\x89PNG\r\n\x1a\n" + b"fake image bytes" * 64


@dataclass
class Api:
    server: FakeDiscord
    channel: Channel
    session: aiohttp.ClientSession

    async def send(self, payload: dict[str, Any], files: dict[str, bytes] | None = None) -> tuple[int, Any]:
        return await self._call("POST", f"/channels/{self.channel.id}/messages", payload, files)

    async def edit(self, message_id: str, payload: dict[str, Any], files: dict[str, bytes] | None = None) -> Any:
        return await self._call("PATCH", f"/channels/{self.channel.id}/messages/{message_id}", payload, files)

    async def _call(
        self, method: str, path: str, payload: dict[str, Any], files: dict[str, bytes] | None
    ) -> tuple[int, Any]:
        form = aiohttp.FormData()
        attachments = [{"id": i, "filename": name} for i, name in enumerate(files or {})]
        if files:
            payload = {**payload, "attachments": [*payload.get("attachments", []), *attachments]}
        form.add_field("payload_json", json.dumps(payload), content_type="application/json")
        for i, (name, data) in enumerate((files or {}).items()):
            form.add_field(f"files[{i}]", data, filename=name, content_type="image/png")
        url = self.server.api_base_url + path
        async with self.session.request(method, url, data=form, headers={"Authorization": f"Bot {TOKEN}"}) as r:
            return r.status, await r.json()


@pytest_asyncio.fixture
async def api() -> AsyncIterator[Api]:
    server = FakeDiscord(token=TOKEN)
    await server.start()
    guild = server.add_guild("Test Guild")
    channel = server.add_channel(guild.id, "general")
    try:
        async with aiohttp.ClientSession() as session:
            yield Api(server, channel, session)
    finally:
        await server.stop()
    assert server.unhandled == [] and server.validation_errors == []


def text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def gallery(*urls: str, spoiler: bool = False) -> dict[str, Any]:
    return {"type": 12, "items": [{"media": {"url": u}, "spoiler": spoiler} for u in urls]}


def container(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": 17, "components": list(children)}


async def test_a_v2_message_keeps_its_layout_and_its_gallerys_spoilers(api: Api) -> None:
    layout = container(text("hi"), gallery("attachment://a.png", spoiler=True))
    status, body = await api.send({"flags": V2, "components": [layout]}, {"a.png": PNG})
    assert status == 200, body
    stored = api.server.state.messages[int(body["id"])]
    assert stored.v2 and stored.text == "hi"
    assert stored.gallery == [{"media": {"url": "attachment://a.png"}, "spoiler": True}]


@pytest.mark.parametrize(
    "extra", [{"content": "hello"}, {"embeds": [{"description": "an embed"}]}], ids=["content", "embeds"]
)
async def test_content_and_embeds_are_refused_with_the_flag(api: Api, extra: dict[str, Any]) -> None:
    status, body = await api.send({"flags": V2, "components": [text("hi")], **extra})
    assert (status, body["code"]) == (400, 50035)
    assert next(iter(extra)) in body["errors"]


async def test_v2_components_need_the_flag(api: Api) -> None:
    status, body = await api.send({"components": [text("hi")]})
    assert (status, body["code"]) == (400, 50035)


async def test_the_flag_stays_and_content_stays_out(api: Api) -> None:
    _, sent = await api.send({"flags": V2, "components": [text("hi")]})
    status, body = await api.edit(sent["id"], {"flags": 0, "components": [], "content": "plain again"})
    assert (status, body["code"]) == (400, 50035) and "flags" in body["errors"]
    status, body = await api.edit(sent["id"], {"content": "some text"})
    assert (status, body["code"]) == (400, 50035)
    status, body = await api.edit(sent["id"], {"content": None, "embeds": [], "components": [text("still v2")]})
    assert status == 200 and body["flags"] & V2
    assert api.server.state.messages[int(sent["id"])].text == "still v2"


async def test_an_ordinary_message_becomes_v2_only_with_its_content_cleared(api: Api) -> None:
    _, sent = await api.send({"content": "plain"})
    status, body = await api.edit(sent["id"], {"flags": V2, "components": [text("layout")]})
    assert (status, body["code"]) == (400, 50035) and "content" in body["errors"]
    status, body = await api.edit(sent["id"], {"flags": V2, "content": None, "components": [text("layout")]})
    assert status == 200 and body["flags"] & V2 and body["content"] == ""


async def test_discords_limits_on_components_text_and_galleries(api: Api) -> None:
    rows = [{"type": 1, "components": [{"type": 2, "style": 2, "label": "b", "custom_id": f"b{i}"}]} for i in range(20)]
    status, body = await api.send({"flags": V2, "components": [container(*rows)]})  # 41 in all
    assert (status, body["code"]) == (400, 50035)
    status, body = await api.send({"flags": V2, "components": [text("x" * 2000), text("y" * 2001)]})
    assert (status, body["code"]) == (400, 50035)
    names = {f"{i}.png": PNG for i in range(11)}
    status, body = await api.send({"flags": V2, "components": [gallery(*(f"attachment://{n}" for n in names))]}, names)
    assert (status, body["code"]) == (400, 50035)
    assert len(api.server.limit_errors) == 2
    # Discord's OpenAPI description knows the gallery's 10 items itself.
    (gallery_problem,) = api.server.validation_errors
    assert "items" in gallery_problem
    api.server.validation_errors.clear()


async def test_attachment_urls_name_an_uploaded_or_kept_file(api: Api) -> None:
    status, body = await api.send({"flags": V2, "components": [gallery("attachment://missing.png")]}, {"a.png": PNG})
    assert (status, body["code"]) == (400, 50035)
    _, sent = await api.send({"flags": V2, "components": [gallery("attachment://a.png")]}, {"a.png": PNG})
    kept = await api.edit(sent["id"], {"components": [text("new text"), gallery("attachment://a.png")]})
    assert kept[0] == 200  # no `attachments` in the edit: the file stays
    dropped = await api.edit(sent["id"], {"attachments": [], "components": [gallery("attachment://a.png")]})
    assert (dropped[0], dropped[1]["code"]) == (400, 50035)
