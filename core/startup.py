"""Start-up checks of what lies outside the bot: the model's Hub repo, the device, Discord.

When one of them cannot be reached, the admin gets one line naming the address and what to
check (exit code 1), not a traceback from deep inside a library.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from core.config import ModelConfig, ModerationConfig
from core.errors import ConfigError, ModelLoadError

if TYPE_CHECKING:
    import discord

log = logging.getLogger("bot")


class StartFailed(Exception):
    """Something the bot needs cannot be reached; the message says which address and what to check."""


def check_local_model(model: ModelConfig) -> None:
    """The model settings (ConfigError), its Hub repo cached or reachable (StartFailed), and a
    warning when there is no CUDA GPU. Blocks (a Hub lookup): run it in a thread."""
    from core.probes import PIPELINE_FILE, hub_status
    from generation.loader import check_model_config, resolve_device
    from generation.sources import SourceKind, classify_source

    try:
        check_model_config(model)
    except ModelLoadError as exc:
        raise ConfigError(str(exc)) from None
    if classify_source(model.source) is SourceKind.HUB:
        found = hub_status("model", "[model] source", model.source, PIPELINE_FILE, model.cache_dir or None)
        if not found.ok:
            raise StartFailed(f"{found.message}; {found.fix}")
    if resolve_device(model.device).type == "cpu":
        log.warning("no CUDA GPU: images are made on the CPU and take minutes each ([model] device = %r)", model.device)


def check_output_check(moderation: ModerationConfig, cache_dir: str | None) -> None:
    """The output check's tagger, when it is a Hub repo id: cached or reachable (StartFailed),
    asked once with a short timeout instead of the Hub client's minute of retries. A local path
    is left to the loader, whose errors name it."""
    from core.logs import adopt_library_handlers
    from core.probes import CLASSIFIER_FILE, hub_status

    source = moderation.classifier_model
    local = Path(source).expanduser().exists() or source.startswith(("/", ".", "~")) or source.count("/") != 1
    if moderation.classifier == "none" or local:
        return
    found = hub_status("output check", "[moderation] classifier_model", source, CLASSIFIER_FILE, cache_dir)
    adopt_library_handlers()
    if not found.ok:
        raise StartFailed(
            f"the output check cannot start: {found.message}; {found.fix}, "
            'or turn the output check off with [moderation] classifier = "none"'
        )


async def login(bot: discord.Client, token: str, api_base_url: str) -> None:
    """``bot.login``, with a refused token or an unreachable Discord said in one line."""
    import aiohttp
    import discord

    try:
        await bot.login(token)
    except discord.LoginFailure:
        raise StartFailed(
            f"Discord ({api_base_url}) refused the token: copy it again from the Developer Portal "
            "(your application > Bot > Reset Token) into [discord] token or DISCORD_TOKEN"
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        detail = f": {exc}" if str(exc) else ""
        raise StartFailed(
            f"cannot reach Discord at {api_base_url} ({type(exc).__name__}{detail}); "
            "check the network, DNS, proxy or firewall, and [discord] api_base_url"
        ) from None
