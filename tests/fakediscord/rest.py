"""REST API routes (under /api/v10) of the fake Discord, enforcing the platform rules bots hit.

Route templates use the OpenAPI spec's parameter names, so a matched route's canonical path
(minus the /api/v10 prefix) is the spec key used to find the request-body schema.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from . import components_v2, limits
from .httputil import (
    ApiError,
    Body,
    json_response,
    missing_access,
    no_content,
    read_body,
    unknown_channel,
    unknown_message,
)
from .installs import followup_refused
from .payloads import (
    JsonObj,
    application_payload,
    bot_user_payload,
    channel_payload,
    guild_create_payload,
    member_payload,
    message_payload,
    user_payload,
)
from .state import EPHEMERAL, LOADING, CallbackRecord, DiscordState, Interaction, Message, User
from .validation import validate_body

API_PREFIX = "/api/v10"
INTERACTION_RESPONSE_WINDOW = 3.0  # seconds to send the initial callback
INTERACTION_TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction token works for webhooks
SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = components_v2.IS_COMPONENTS_V2
CREATE_FLAGS = EPHEMERAL | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
EDIT_FLAGS = SUPPRESS_EMBEDS | IS_COMPONENTS_V2  # the flags an edit may change (V2 only on, see components_v2)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Host(Protocol):
    """What the routes need from the FakeDiscord facade (kept narrow to avoid an import cycle)."""

    token: str
    time_offset: float
    validation_errors: list[str]
    limit_errors: list[str]
    requests: list[tuple[str, str, int]]
    unhandled: list[str]
    attachment_size_limit: int
    app_owner: User
    recommended_shards: int

    @property
    def base_url(self) -> str: ...

    @property
    def gateway_url(self) -> str: ...


def _has_message_content(payload: JsonObj, files: int, attachments: int = 0) -> bool:
    return bool(
        (payload.get("content") or "").strip()
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("sticker_ids")
        or payload.get("poll")
        or files
        or attachments
    )


class RestApi:
    def __init__(self, state: DiscordState, host: Host) -> None:
        self.state = state
        self.host = host

    # ---- plumbing ----------------------------------------------------------------------

    def now(self) -> float:
        """Monotonic clock shifted by the test-controlled offset (simulates old tokens)."""
        return time.monotonic() + self.host.time_offset

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if self._needs_auth(request):
                self._check_auth(request)
            response = await handler(request)
        except ApiError as err:
            response = err.response()
        except web.HTTPNotFound:
            # Loud failure: tests assert `unhandled` is empty, so a missing route is never silent.
            self.host.unhandled.append(f"{request.method} {request.path}")
            response = json_response({"code": 0, "message": "404: Not Found"}, 404)
        except web.HTTPMethodNotAllowed:
            self.host.unhandled.append(f"{request.method} {request.path}")
            response = json_response({"code": 0, "message": "405: Method Not Allowed"}, 405)
        self.host.requests.append((request.method, request.path, response.status))
        return response

    def _spec_path(self, request: web.Request) -> str | None:
        info = request.match_info.route.resource
        canonical = info.canonical if info is not None else ""
        return canonical[len(API_PREFIX) :] if canonical.startswith(API_PREFIX) else None

    def _needs_auth(self, request: web.Request) -> bool:
        spec_path = self._spec_path(request)
        if spec_path is None:
            return False
        # Interaction callbacks and webhook-token routes are authenticated by their token.
        return not (spec_path.startswith("/interactions/") or spec_path.startswith("/webhooks/"))

    def _check_auth(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bot {self.host.token}":
            raise ApiError(401, 0, "401: Unauthorized")

    async def body(self, request: web.Request, *, message: str | None = None) -> Body:
        """Parse and validate a body. `message` says where a message object sits in it ("" = the
        body itself, "data" = a callback's data) so Discord's limits are checked first: a too-long
        field then shows up in `limit_errors` (platform rule) rather than as a schema problem."""
        body = await read_body(request, self.host.attachment_size_limit)
        if message is not None and isinstance(body.payload, dict):
            inner = body.payload.get(message) if message else body.payload
            if isinstance(inner, dict):
                self.check_limits(inner)
        spec_path = self._spec_path(request)
        if spec_path is not None and body.payload is not None:
            problems = validate_body(spec_path, request.method, body.payload)
            if problems:
                # One entry per rejected request body, listing all of its problems.
                self.host.validation_errors.append(" | ".join(problems))
                raise ApiError(
                    400, 50035, "Invalid Form Body", {"_errors": [{"code": "SCHEMA", "message": p} for p in problems]}
                )
        if body.payload is None:
            body.payload = {}
        return body

    def check_limits(self, payload: JsonObj) -> None:
        problems = limits.message_problems(payload)
        if problems:
            self.host.limit_errors.extend(f"{path}: {msg}" for path, msg in problems)
            raise ApiError(400, 50035, "Invalid Form Body", limits.error_tree(problems))

    def msg_json(self, message: Message) -> web.Response:
        return json_response(message_payload(self.state, self.host.base_url, message))

    # ---- message building --------------------------------------------------------------

    def new_message(self, channel_id: int, payload: JsonObj, body: Body, **fields: Any) -> Message:
        if not _has_message_content(payload, len(body.files)):
            raise ApiError(400, 50006, "Cannot send an empty message")
        self.check_limits(payload)
        message = Message(
            id=self.state.snowflakes.next(),
            channel_id=channel_id,
            author_id=self.state.bot_user.id,
            flags=int(payload.get("flags") or 0) & CREATE_FLAGS,
            **fields,
        )
        self.apply_edit(message, payload, body, record_edit=False)
        return self.state.add_message(message)

    def apply_edit(self, message: Message, payload: JsonObj, body: Body, *, record_edit: bool = True) -> None:
        """Apply content/embeds/components/attachments/flags from a create or PATCH body."""
        self.check_limits(payload)
        listed = payload.get("attachments")
        new_files = []
        for index, att in sorted(body.files.items()):
            meta: JsonObj = next((a for a in listed or [] if str(a.get("id")) == str(index)), {})
            att.filename = meta.get("filename") or att.filename
            att.description = meta.get("description")
            att.id = self.state.snowflakes.next()
            new_files.append(att)
        # `attachments` lists the existing attachments to keep (by id) plus the new files.
        keep = {str(a.get("id")) for a in listed or []}
        kept = message.attachments if listed is None else [a for a in message.attachments if str(a.id) in keep]
        flags = message.flags
        if payload.get("flags") is not None:
            flags = (flags & ~EDIT_FLAGS) | (int(payload["flags"]) & EDIT_FLAGS)
        content = (payload.get("content") or "") if "content" in payload else message.content
        embeds = (payload.get("embeds") or []) if "embeds" in payload else message.embeds
        components = (payload.get("components") or []) if "components" in payload else message.components
        problems = components_v2.flag_problems(message.flags, payload.get("flags"), creating=not record_edit)
        problems += components_v2.message_problems(
            v2=bool(flags & IS_COMPONENTS_V2),
            content=content,
            embeds=embeds,
            components=components,
            attachments=[a.filename for a in [*kept, *new_files]],
        )
        if problems:
            self.host.limit_errors.extend(f"{path}: {msg}" for path, msg in problems)
            raise ApiError(400, 50035, "Invalid Form Body", limits.error_tree(problems))
        message.content, message.embeds, message.components = content, embeds, components
        message.attachments = [*kept, *new_files]
        message.flags = flags
        message.versions.append(
            {
                "flags": flags,
                "content": content,
                "embeds": embeds,
                "components": components,
                "attachments": [a.filename for a in message.attachments],
            }
        )
        if record_edit:
            if not _has_message_content(
                {"content": message.content, "embeds": message.embeds, "components": message.components},
                0,
                len(message.attachments),
            ):
                raise ApiError(400, 50006, "Cannot send an empty message")
            message.flags &= ~LOADING  # editing the "thinking" message turns it into a real one
            message.edits.append(time.monotonic())
        self.state.changed()

    # ---- identity / gateway ------------------------------------------------------------

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(bot_user_payload(self.state.bot_user))

    async def get_application(self, request: web.Request) -> web.Response:
        return json_response(application_payload(self.state, self.host.app_owner))

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.host.gateway_url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": self.host.gateway_url,
                "shards": self.host.recommended_shards,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
            }
        )

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.state.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(user_payload(user))

    # ---- application commands ----------------------------------------------------------

    def _scope(self, request: web.Request) -> int | None:
        if int(request.match_info["application_id"]) != self.state.application_id:
            raise ApiError(404, 10002, "Unknown Application")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return None
        return self._known_guild(int(guild_id))

    def _known_guild(self, guild_id: int) -> int:
        guild = self.state.guilds.get(guild_id)
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        if not guild.bot_member:
            raise missing_access()
        return guild_id

    def _stored_command(self, scope: int | None, data: JsonObj) -> JsonObj:
        existing = next(
            (
                c
                for c in self.state.commands.get(scope, [])
                if c["name"] == data["name"] and c.get("type", 1) == data.get("type", 1)
            ),
            None,
        )
        stored: JsonObj = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "nsfw": False,
            "contexts": None,
            "integration_types": [0],
            "name_localizations": None,
            "description_localizations": None,
            **{k: v for k, v in data.items() if v is not None},
        }
        stored.update(
            id=existing["id"] if existing else str(self.state.snowflakes.next()),
            application_id=str(self.state.application_id),
            version=str(self.state.snowflakes.next()),
        )
        if scope is not None:
            stored["guild_id"] = str(scope)
        return stored

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body = await self.body(request)
        commands = [self._stored_command(scope, c) for c in body.payload or []]
        self.state.commands[scope] = commands
        self.state.changed()
        return json_response(commands)

    async def get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.state.commands.get(self._scope(request), []))

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body = await self.body(request)
        command = self._stored_command(scope, body.payload)
        others = [c for c in self.state.commands.get(scope, []) if c["id"] != command["id"]]
        self.state.commands[scope] = [*others, command]
        self.state.changed()
        return json_response(command, 201)

    # ---- interactions --------------------------------------------------------------------

    def _callback_response(self, ix: Interaction, kind: int, message: Message | None) -> JsonObj:
        resource: JsonObj = {"type": kind}
        if message is not None and kind in (4, 5, 7):
            resource["message"] = message_payload(self.state, self.host.base_url, message)
        return {
            "interaction": {
                "id": str(ix.id),
                "type": ix.type,
                "activity_instance_id": None,
                "response_message_id": str(message.id) if message else None,
                "response_message_loading": bool(message and message.loading),
                "response_message_ephemeral": bool(message and message.ephemeral),
            },
            "resource": resource,
        }

    async def interaction_callback(self, request: web.Request) -> web.Response:
        ix = self.state.interactions.get(int(request.match_info["interaction_id"]))
        if ix is None or ix.token != request.match_info["interaction_token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        body = await self.body(request, message="data")
        payload: JsonObj = body.payload
        age = self.now() - ix.created_at
        self._check_initial_response(ix, payload, age)
        kind = int(payload.get("type", 0))
        data: JsonObj = payload.get("data") or {}
        message = self._apply_callback(ix, kind, data, body)
        ix.responses.append(CallbackRecord(type=kind, data=payload.get("data"), received_after=age))
        self.state.changed()
        if request.query.get("with_response", "").lower() in ("1", "true"):
            return json_response(self._callback_response(ix, kind, message))
        return no_content()

    def _check_initial_response(self, ix: Interaction, payload: JsonObj, age: float) -> None:
        """Discord takes one initial response, within the response window."""
        if ix.responses:
            ix.rejected.append(f"second initial response (type {payload.get('type')}) -> 40060")
            self.state.changed()
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if age > INTERACTION_RESPONSE_WINDOW:
            ix.rejected.append(f"initial response after {age:.2f}s -> 10062")
            self.state.changed()
            raise ApiError(404, 10062, "Unknown interaction")

    def _apply_callback(self, ix: Interaction, kind: int, data: JsonObj, body: Body) -> Message | None:
        """Act on one callback type; the message it created or touched, if any."""
        message: Message | None = None
        common: dict[str, Any] = {"interaction_id": ix.id, "webhook_id": self.state.application_id}
        if ix.forced_ephemeral and kind in (4, 5):
            data = {**data, "flags": int(data.get("flags") or 0) | EPHEMERAL}
        if kind == 4:
            message = self.new_message(ix.channel_id or 0, data, body, type=20 if ix.type == 2 else 0, **common)
            ix.original = message
        elif kind == 5:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = Message(
                id=self.state.snowflakes.next(),
                channel_id=ix.channel_id or 0,
                author_id=self.state.bot_user.id,
                flags=flags,
                type=20 if ix.type == 2 else 0,
                **common,
            )
            ix.original = self.state.add_message(message)
        elif kind in (6, 7):
            if ix.source_message is None:
                raise ApiError(400, 40043, "Interaction callback type is not valid for this interaction")
            message = ix.original = ix.source_message
            if kind == 7:
                self.apply_edit(message, data, body)
        elif kind == 8:
            ix.choices = self._autocomplete_choices(data)
        elif kind == 9:
            ix.modal = data
        return message

    def _autocomplete_choices(self, data: JsonObj) -> list[JsonObj]:
        """The choices of an autocomplete answer; Discord caps them at 25."""
        choices: list[JsonObj] = data.get("choices") or []
        if len(choices) > 25:
            problem = [("data.choices", f"Must be 25 or fewer in length (got {len(choices)}).")]
            self.host.limit_errors.append(f"autocomplete: {problem[0][1]}")
            raise ApiError(400, 50035, "Invalid Form Body", limits.error_tree(problem))
        return choices

    # ---- interaction webhooks -------------------------------------------------------------

    def _webhook_interaction(self, request: web.Request) -> Interaction:
        if int(request.match_info["webhook_id"]) != self.state.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        ix = self.state.interaction_by_token(request.match_info["webhook_token"])
        if ix is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        age = self.now() - ix.created_at
        if age > INTERACTION_TOKEN_LIFETIME:
            ix.rejected.append(f"{request.method} {request.path} with a {age:.0f}s old token -> 50027")
            self.state.changed()
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return ix

    def _ix_message(self, ix: Interaction, message_id: str) -> Message:
        if message_id == "@original":
            found = ix.original
        else:
            found = next((m for m in ix.all_messages if m.id == int(message_id)), None)
        if found is None or found.deleted:
            raise unknown_message()
        return found

    async def webhook_execute(self, request: web.Request) -> web.Response:
        ix = self._webhook_interaction(request)
        body = await self.body(request, message="")
        payload: JsonObj = body.payload
        if ix.forced_ephemeral:
            payload = {**payload, "flags": int(payload.get("flags") or 0) | EPHEMERAL}
        if not ix.responses:
            # Follow-ups before the initial response hit an unknown webhook on Discord.
            ix.rejected.append("follow-up before the initial response -> 10015")
            self.state.changed()
            raise ApiError(404, 10015, "Unknown Webhook")
        original = ix.original
        # (Once the "thinking" message was deleted, a follow-up is a message of its own.)
        if original is not None and original.loading and not original.deleted and not ix.defer_filled:
            # Discord turns the first follow-up after a "thinking" defer into the original response.
            if not _has_message_content(payload, len(body.files)):
                raise ApiError(400, 50006, "Cannot send an empty message")
            self.apply_edit(original, payload, body, record_edit=False)
            original.flags &= ~LOADING
            ix.defer_filled = True
            message = original
        else:
            if followup_refused(ix):
                ix.rejected.append(f"follow-up {len(ix.followups) + 1} of a user-install-only interaction -> 40094")
                self.state.changed()
                raise ApiError(400, 40094, "This interaction has hit the maximum number of follow up messages")
            message = self.new_message(
                ix.channel_id or 0, payload, body, interaction_id=ix.id, webhook_id=self.state.application_id
            )
            ix.followups.append(message)
        self.state.changed()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return self.msg_json(message)
        return no_content()

    async def webhook_get_message(self, request: web.Request) -> web.Response:
        ix = self._webhook_interaction(request)
        return self.msg_json(self._ix_message(ix, request.match_info.get("message_id", "@original")))

    async def webhook_edit_message(self, request: web.Request) -> web.Response:
        ix = self._webhook_interaction(request)
        message = self._ix_message(ix, request.match_info.get("message_id", "@original"))
        body = await self.body(request, message="")
        self.apply_edit(message, body.payload, body)
        if message is ix.original:
            ix.defer_filled = True
        return self.msg_json(message)

    async def webhook_delete_message(self, request: web.Request) -> web.Response:
        ix = self._webhook_interaction(request)
        message = self._ix_message(ix, request.match_info.get("message_id", "@original"))
        message.deleted = True
        self.state.changed()
        return no_content()

    # ---- channels and messages -------------------------------------------------------------

    def _channel_id(self, request: web.Request) -> int:
        channel = self.state.channels.get(int(request.match_info["channel_id"]))
        if channel is None:
            raise unknown_channel()
        if not self.state.bot_can_access(channel):
            raise missing_access()
        return channel.id

    def _channel_message(self, request: web.Request) -> Message:
        channel_id = self._channel_id(request)
        message = self.state.messages.get(int(request.match_info["message_id"]))
        if message is None or message.deleted or message.channel_id != channel_id or message.ephemeral:
            raise unknown_message()
        return message

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self.state.channels[self._channel_id(request)]
        return json_response(channel_payload(self.state, channel))

    async def create_message(self, request: web.Request) -> web.Response:
        channel_id = self._channel_id(request)
        body = await self.body(request, message="")
        payload: JsonObj = body.payload
        kind = 19 if payload.get("message_reference") else 0
        message = self.new_message(
            channel_id, {**payload, "flags": int(payload.get("flags") or 0) & ~EPHEMERAL}, body, type=kind
        )
        return self.msg_json(message)

    async def list_messages(self, request: web.Request) -> web.Response:
        channel_id = self._channel_id(request)
        limit = int(request.query.get("limit", "50"))
        visible = [m for m in self.state.channel_messages(channel_id) if not m.deleted and not m.ephemeral]
        newest_first = sorted(visible, key=lambda m: m.id, reverse=True)[:limit]
        return json_response([message_payload(self.state, self.host.base_url, m) for m in newest_first])

    async def get_message(self, request: web.Request) -> web.Response:
        return self.msg_json(self._channel_message(request))

    async def edit_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        body = await self.body(request, message="")
        if message.author_id != self.state.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self.apply_edit(message, body.payload, body)
        return self.msg_json(message)

    async def delete_message(self, request: web.Request) -> web.Response:
        message = self._channel_message(request)
        message.deleted = True
        self.state.changed()
        return no_content()

    async def typing(self, request: web.Request) -> web.Response:
        self._channel_id(request)
        return no_content()

    async def create_dm(self, request: web.Request) -> web.Response:
        body = await self.body(request)
        user_id = int(body.payload.get("recipient_id", 0))
        if user_id not in self.state.users:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return json_response(channel_payload(self.state, self.state.dm_channel(user_id)))

    # ---- guilds ------------------------------------------------------------------------------

    def _guild_id(self, request: web.Request) -> int:
        return self._known_guild(int(request.match_info["guild_id"]))

    async def get_guild(self, request: web.Request) -> web.Response:
        data = guild_create_payload(self.state, self.state.guilds[self._guild_id(request)])
        for key in ("members", "channels", "threads", "voice_states", "presences"):
            data.pop(key)
        return json_response(data)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self.state.guilds[self._guild_id(request)]
        channels = [self.state.channels[c] for c in guild.channel_ids if not self.state.channels[c].is_thread]
        return json_response([channel_payload(self.state, c) for c in channels])

    async def get_member(self, request: web.Request) -> web.Response:
        guild_id = self._guild_id(request)
        member = self.state.members.get((guild_id, int(request.match_info["user_id"])))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(member_payload(self.state, member))

    # ---- routing -----------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        p = API_PREFIX
        wh = f"{p}/webhooks/{{webhook_id}}/{{webhook_token}}"
        apps = f"{p}/applications/{{application_id}}"
        ch = f"{p}/channels/{{channel_id}}"
        return [
            web.get(f"{p}/users/@me", self.get_me),
            web.get(f"{p}/users/{{user_id}}", self.get_user),
            web.post(f"{p}/users/@me/channels", self.create_dm),
            web.get(f"{p}/oauth2/applications/@me", self.get_application),
            web.get(f"{p}/gateway", self.get_gateway),
            web.get(f"{p}/gateway/bot", self.get_gateway_bot),
            web.put(f"{apps}/commands", self.put_commands),
            web.get(f"{apps}/commands", self.get_commands),
            web.post(f"{apps}/commands", self.post_command),
            web.put(f"{apps}/guilds/{{guild_id}}/commands", self.put_commands),
            web.get(f"{apps}/guilds/{{guild_id}}/commands", self.get_commands),
            web.post(f"{apps}/guilds/{{guild_id}}/commands", self.post_command),
            web.post(f"{p}/interactions/{{interaction_id}}/{{interaction_token}}/callback", self.interaction_callback),
            web.post(wh, self.webhook_execute),
            # @original must be registered before {message_id}: aiohttp matches in order.
            web.get(f"{wh}/messages/@original", self.webhook_get_message),
            web.patch(f"{wh}/messages/@original", self.webhook_edit_message),
            web.delete(f"{wh}/messages/@original", self.webhook_delete_message),
            web.get(f"{wh}/messages/{{message_id}}", self.webhook_get_message),
            web.patch(f"{wh}/messages/{{message_id}}", self.webhook_edit_message),
            web.delete(f"{wh}/messages/{{message_id}}", self.webhook_delete_message),
            web.get(ch, self.get_channel),
            web.post(f"{ch}/messages", self.create_message),
            web.get(f"{ch}/messages", self.list_messages),
            web.get(f"{ch}/messages/{{message_id}}", self.get_message),
            web.patch(f"{ch}/messages/{{message_id}}", self.edit_message),
            web.delete(f"{ch}/messages/{{message_id}}", self.delete_message),
            web.post(f"{ch}/typing", self.typing),
            web.get(f"{p}/guilds/{{guild_id}}", self.get_guild),
            web.get(f"{p}/guilds/{{guild_id}}/channels", self.get_guild_channels),
            web.get(f"{p}/guilds/{{guild_id}}/members/{{user_id}}", self.get_member),
        ]
