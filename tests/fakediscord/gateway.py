"""The websocket gateway: HELLO/IDENTIFY/READY/GUILD_CREATE, heartbeats, and event dispatch.

Frames are sent as plain JSON text even when the client asks for zlib-stream compression;
discord.py accepts text frames. Each connection is a `GatewaySession`; the server survives bot
restarts because every new websocket simply starts a new session.

Sharding as on Discord: a session that IDENTIFYs with `shard: [id, count]` gets READY with that
`shard` field, and it alone gets the events of the guilds it owns (`(guild_id >> 22) % count ==
id`); direct messages go to shard 0. A session that names no shard is shard 0 of 1 (all guilds).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from .payloads import GATEWAY_VERSION, JsonObj, bot_member, bot_user_payload, guild_create_payload, member_payload
from .state import DiscordState

log = logging.getLogger(__name__)

# Opcodes.
DISPATCH, HEARTBEAT, IDENTIFY, PRESENCE_UPDATE, VOICE_STATE = 0, 1, 2, 3, 4
RESUME, RECONNECT, REQUEST_MEMBERS, INVALID_SESSION, HELLO, HEARTBEAT_ACK = 6, 7, 8, 9, 10, 11

HEARTBEAT_INTERVAL_MS = 41250
CLOSE_AUTHENTICATION_FAILED = 4004
CLOSE_NOT_AUTHENTICATED = 4003
CLOSE_INVALID_SHARD = 4010

# Intents that decide who gets a member's message, and whether with its content.
GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = 1 << 9, 1 << 12, 1 << 15
CONTENT_HIDDEN: JsonObj = {"content": "", "embeds": [], "attachments": [], "components": []}


def shard_of(guild_id: int | None, shard_count: int) -> int:
    """Discord's formula: which shard receives a guild's events (DMs: shard 0)."""
    return 0 if guild_id is None else (guild_id >> 22) % shard_count


class GatewaySession:
    """One websocket connection; `seq` increments on every dispatch, as on Discord."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.seq = 0
        self.session_id = secrets.token_hex(16)
        self.identified = False
        self.ready = False
        self.intents = 0
        # [shard_id, shard_count] from IDENTIFY; None = no sharding (shard 0 of 1).
        self.shard: tuple[int, int] | None = None
        self._send_lock = asyncio.Lock()

    async def send(self, op: int, d: Any, t: str | None = None) -> None:
        # The lock keeps sequence numbers in the order frames hit the wire.
        async with self._send_lock:
            if self.ws.closed:
                return
            seq: int | None = None
            if op == DISPATCH:
                self.seq += 1
                seq = self.seq
            await self.ws.send_str(json.dumps({"op": op, "d": d, "s": seq, "t": t}))

    def owns(self, guild_id: int | None) -> bool:
        shard_id, shard_count = self.shard or (0, 1)
        return shard_of(guild_id, shard_count) == shard_id


class Gateway:
    def __init__(self, state: DiscordState, token: Callable[[], str], url: Callable[[], str]) -> None:
        self.state = state
        self._token = token
        self._url = url
        self.sessions: list[GatewaySession] = []
        self.identify_count = 0
        self.ready_count = 0
        # Every frame the bot sent (op, d), for tests that want to inspect presence updates etc.
        self.received: list[tuple[int, Any]] = []

    @property
    def ready_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.ready and not s.ws.closed]

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        session = GatewaySession(ws)
        self.sessions.append(session)
        try:
            await session.send(HELLO, {"heartbeat_interval": HEARTBEAT_INTERVAL_MS, "_trace": ["fake-gateway"]})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                await self._on_frame(session, frame)
        finally:
            self.sessions.remove(session)
            self.state.changed()
        return ws

    async def _on_frame(self, session: GatewaySession, frame: JsonObj) -> None:
        op, d = frame.get("op"), frame.get("d")
        self.received.append((op, d))  # type: ignore[arg-type]
        if op == HEARTBEAT:
            await session.send(HEARTBEAT_ACK, None)
        elif op == IDENTIFY:
            await self._identify(session, d or {})
        elif op == RESUME:
            # Sessions are not kept across connections; make the client IDENTIFY afresh.
            await session.send(INVALID_SESSION, False)
        elif op == REQUEST_MEMBERS:
            await self._members_chunk(session, d or {})
        elif not session.identified:
            await session.ws.close(code=CLOSE_NOT_AUTHENTICATED, message=b"Not authenticated.")
        # PRESENCE_UPDATE / VOICE_STATE and others are accepted and ignored.

    async def _identify(self, session: GatewaySession, d: JsonObj) -> None:
        token = str(d.get("token", ""))
        if token.removeprefix("Bot ") != self._token():
            await session.ws.close(code=CLOSE_AUTHENTICATION_FAILED, message=b"Authentication failed.")
            return
        shard = d.get("shard")
        if shard is not None:
            valid = (
                isinstance(shard, list)
                and len(shard) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) for n in shard)
                and 0 <= shard[0] < shard[1]
            )
            if not valid:
                await session.ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
                return
            session.shard = (shard[0], shard[1])
        session.identified = True
        session.intents = int(d.get("intents") or 0)
        self.identify_count += 1
        # Guilds without the bot (reached through user installs only) are not the bot's to know.
        guilds = [g for g in list(self.state.guilds.values()) if g.bot_member and session.owns(g.id)]
        ready: JsonObj = {
            "v": GATEWAY_VERSION,
            "user": bot_user_payload(self.state.bot_user),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self._url(),
            "application": {"id": str(self.state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-gateway"],
        }
        if session.shard is not None:
            ready["shard"] = list(session.shard)
        await session.send(DISPATCH, ready, "READY")
        for guild in guilds:
            await session.send(DISPATCH, guild_create_payload(self.state, guild), "GUILD_CREATE")
        session.ready = True
        self.ready_count += 1
        self.state.changed()

    async def _members_chunk(self, session: GatewaySession, d: JsonObj) -> None:
        guild_id = int(d.get("guild_id") or 0)
        guild = self.state.guilds.get(guild_id)
        if guild is None or not guild.bot_member:
            return
        members = [bot_member(self.state, guild)] + [self.state.members[(guild_id, u)] for u in guild.member_ids]
        chunk = {
            "guild_id": str(guild_id),
            "members": [member_payload(self.state, m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "nonce": d.get("nonce"),
        }
        await session.send(DISPATCH, chunk, "GUILD_MEMBERS_CHUNK")

    async def dispatch(self, event: str, data: JsonObj) -> None:
        """Send an event to the session(s) of the shard that owns its guild (DMs: shard 0)."""
        raw = data.get("id") if event == "GUILD_CREATE" else data.get("guild_id")
        guild_id = int(raw) if raw is not None else None
        sessions = [s for s in self.ready_sessions if s.owns(guild_id)]
        if not sessions:
            raise RuntimeError(f"cannot dispatch {event}: no bot shard for guild {guild_id} is connected and ready")
        for session in sessions:
            await session.send(DISPATCH, data, event)

    async def dispatch_message_create(self, data: JsonObj, *, mentions_bot: bool = False) -> int:
        """MESSAGE_CREATE for a member's message, as Discord sends it: only to sessions that asked
        for GUILD_MESSAGES (DIRECT_MESSAGES in DMs), with content, embeds, attachments, components
        and poll emptied for a session without MESSAGE_CONTENT, except in DMs and when the message
        mentions the bot. How many sessions got it; none connected is fine (nothing to tell)."""
        raw = data.get("guild_id")
        guild_id = int(raw) if raw is not None else None
        needed = GUILD_MESSAGES if guild_id is not None else DIRECT_MESSAGES
        sessions = [s for s in self.ready_sessions if s.owns(guild_id) and s.intents & needed]
        for session in sessions:
            sees_content = session.intents & MESSAGE_CONTENT or guild_id is None or mentions_bot
            hidden = {k: v for k, v in data.items() if k != "poll"} | CONTENT_HIDDEN
            payload = data if sees_content else hidden
            await session.send(DISPATCH, payload, "MESSAGE_CREATE")
        return len(sessions)

    async def close_all(self, code: int = 1001) -> None:
        for session in list(self.sessions):
            await session.ws.close(code=code, message=b"server shutting down")
