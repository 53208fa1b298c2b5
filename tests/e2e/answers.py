"""Reading the bot's private (ephemeral) answer to an interaction."""

from __future__ import annotations

from tests.fakediscord.state import Interaction

EPHEMERAL = 1 << 6


async def private_text(ix: Interaction, timeout: float) -> str:  # noqa: ASYNC109 (a test's wait)
    """The answer's text, after checking Discord was told to show it to the member only."""
    response = await ix.wait_response(timeout=timeout)
    assert response.data is not None and response.data.get("flags", 0) & EPHEMERAL, response
    return str(response.data["content"])
