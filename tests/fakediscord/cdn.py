"""The fake CDN: serves attachment bytes at `/attachments/{channel_id}/{attachment_id}/{filename}`.

Files come from messages (the bot's uploads, members' posts) and from attachment options a test
passed to `invoke`. Each `Attachment` may make the CDN misbehave for it alone: answer after
`cdn_delay` seconds, or with `cdn_status` (a plain-text error body, as the CDN sends) instead of the
bytes. discord.py's `Attachment.read()` raises NotFound on 404, Forbidden on 403, HTTPException else.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from .state import Attachment, DiscordState

CDN_ERRORS = {403: "Forbidden", 404: "This content is no longer available.", 429: "Too Many Requests"}


class Cdn:
    def __init__(self, state: DiscordState) -> None:
        self.state = state

    def find(self, channel_id: int, attachment_id: int) -> Attachment | None:
        for message in self.state.messages.values():
            if message.channel_id == channel_id:
                for att in message.attachments:
                    if att.id == attachment_id:
                        return att
        upload = self.state.uploads.get(attachment_id)
        if upload is not None and upload[0] == channel_id:
            return upload[1]
        return None

    async def get_attachment(self, request: web.Request) -> web.Response:
        att = self.find(int(request.match_info["channel_id"]), int(request.match_info["attachment_id"]))
        if att is None:
            return web.Response(status=404, text=CDN_ERRORS[404])
        att.downloads += 1
        self.state.changed()
        if att.cdn_delay > 0:
            await asyncio.sleep(att.cdn_delay)
        if att.cdn_status != 200:
            return web.Response(status=att.cdn_status, text=CDN_ERRORS.get(att.cdn_status, "CDN error"))
        # As given (a parameter such as "; charset=utf-8" included), like the CDN's stored type.
        return web.Response(body=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"})

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self.get_attachment)]
