"""A local, test-only Discord (REST + gateway) for end-to-end tests of the bot with real discord.py.

Usage sketch::

    server = FakeDiscord(token="test-token")
    await server.start()                  # then point the bot at server.api_base_url / gateway_url
    guild = server.add_guild("Test Guild")
    chan = server.add_channel(guild.id, "general", nsfw=False)
    alice = server.add_user("alice")
    server.add_member(guild.id, alice.id)
    await server.wait_until_ready()
    ix = await server.invoke(alice, chan, "imagine", {"prompt": "1girl"})
    await ix.wait_for(lambda i: i.original is not None and not i.original.loading)
    assert server.validation_errors == [] and server.unhandled == []
    await server.stop()

Members' images and forms::

    posted = await server.post_message(alice, chan, "a cat", attachments=[Attachment("cat.png", "image/png", png)])
    ix = await server.context_menu(alice, posted, "Describe image")   # a registered message command
    ix = await server.invoke(alice, chan, "upscale", {"image": Attachment("a.png", "image/png", png, cdn_status=404)})
    sub = await server.submit_modal(alice, shown_by, {"Prompt": "2girls"})  # by custom_id or label

User installs (see installs.py for Discord's rules the fake applies)::

    away = server.add_guild("Elsewhere", bot_member=False)   # the app is not installed there
    server.install_for_user(alice)                            # alice added the app to her account
    ix = await server.invoke(alice, server.add_channel(away.id, "lewd", nsfw=True), "imagine", {...}, install="user")
    gdm = server.add_group_dm([alice, bob])                   # type 3, context 2, the bot no member
    ix = await server.dm_invoke(alice, "imagine", {...}, install="user")
    server.expire_token(ix)   # that token only is past its 15 minutes: follow-ups get 401 50027

Add guilds/channels/users before the bot connects (GUILD_CREATE is sent on IDENTIFY), or announce a
guild added later with `await server.join_guild(guild)`; `add_guild(..., shard=(id, count))` picks an
id that shard owns, for sharded bots.
"""

from .installs import FOLLOWUP_LIMIT
from .interaction_builder import InteractionSpecError
from .server import FakeDiscord
from .state import (
    DEFAULT_EVERYONE_PERMISSIONS,
    EPHEMERAL,
    LOADING,
    USE_EXTERNAL_APPS,
    Attachment,
    CallbackRecord,
    Channel,
    Guild,
    Interaction,
    Member,
    Message,
    Role,
    User,
)

__all__ = [
    "DEFAULT_EVERYONE_PERMISSIONS",
    "EPHEMERAL",
    "FOLLOWUP_LIMIT",
    "LOADING",
    "USE_EXTERNAL_APPS",
    "Attachment",
    "CallbackRecord",
    "Channel",
    "FakeDiscord",
    "Guild",
    "Interaction",
    "InteractionSpecError",
    "Member",
    "Message",
    "Role",
    "User",
]
