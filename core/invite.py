"""The invite URL: exactly the scopes and channel permissions the bot uses, nothing more.

Replies to slash commands and buttons go through the interaction's webhook, which needs no
channel permission; these are for what the bot posts on its own in a channel.
"""

from __future__ import annotations

import discord

SCOPES = (
    "bot",  # the bot user: the gateway, and posting where an interaction's token has expired
    "applications.commands",  # the slash commands
)

PERMISSIONS = discord.Permissions(
    # See the channel it posts to: a result whose 15-minute interaction token expired, and the
    # moderation log's notes.
    view_channel=True,
    # Post those messages ...
    send_messages=True,
    # ... also when the command was used in a thread.
    send_messages_in_threads=True,
    # The result's embed (prompt and settings) and the preview/result images.
    embed_links=True,
    attach_files=True,
)
# Left out on purpose: Read Message History (the bot never fetches or replies to messages),
# Manage Messages (the 🗑️ button deletes the bot's own message, which needs no permission),
# Use External Emojis and Add Reactions (only Unicode emoji, no reactions).


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)
