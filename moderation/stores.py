"""What moderation needs of storage, as a protocol; ``db.policies.PolicyStore`` implements it.
(A protocol, so moderation never imports the database layer, which depends on it.)"""

from __future__ import annotations

from typing import Protocol

from moderation.policy import GuildSettings


class PolicyStore(Protocol):
    async def guild(self, guild_id: int) -> GuildSettings:
        """The server's rules, channel rules, modlog channel and blocklists."""
        ...

    async def set_server(self, guild_id: int, **values: object) -> None: ...

    async def set_channel(self, guild_id: int, channel_id: int, **values: object) -> None: ...

    async def block(self, guild_id: int, channel_id: int, tag: str, added_by: int) -> bool:
        """Add a tag to a blocklist (SERVER_WIDE for the server's); False if it was there."""
        ...

    async def unblock(self, guild_id: int, channel_id: int, tag: str) -> bool: ...
