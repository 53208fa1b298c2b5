"""The Bot subclass: owns nothing it did not receive, loads the cogs, funnels command errors."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands
from discord.ext import commands

from core import funnel
from core.config import Config, DiscordConfig
from core.i18n import AnyCommand, CommandTranslator, Key, command_strings, shipped_catalogs
from core.metrics import Metrics
from core.moderation_text import blocked_attempt_text
from core.pacer import Pacer
from db.audit import AuditLog
from db.settings import SettingsStore
from db.stats import StatsStore
from jobs.backend import Fleet, WorkerStatus
from jobs.service import GenerationService, Restored
from moderation.admin import ModerationAdmin
from moderation.gate import BlockedAttempt, RequestGate
from prompt.autocomplete import TagIndex
from prompt.tags import TagDatabase
from quota.admin import QuotaAdmin

if TYPE_CHECKING:
    from core.image_input import ImageReader
    from core.messenger import JobMessenger

log = logging.getLogger(__name__)

HTTP_CONNECTIONS = 32

EXTENSIONS = (
    "cogs.imagine",
    "cogs.results",
    "cogs.describe",
    "cogs.job_controls",
    "cogs.quota",
    "cogs.settings",
    "cogs.help",
    "cogs.moderation",
    "cogs.workers",
    "cogs.stats",
)


class _NoWorkers:
    def workers(self) -> tuple[WorkerStatus, ...]:
        return ()


@dataclass(frozen=True, slots=True)
class BotContext:
    """Everything the cogs may use, opened in bot.main() and handed in."""

    config: Config
    service: GenerationService
    tags: TagDatabase
    tag_index: TagIndex
    gate: RequestGate
    moderation: ModerationAdmin
    audit: AuditLog
    quotas: QuotaAdmin
    messenger: JobMessenger
    settings: SettingsStore
    # Members' images for Remix and /describe (downloads, the tagger).
    images: ImageReader
    # A server's numbers for /stats (jobs and refusals over the day and the week).
    stats: StatsStore
    # Jobs the previous run left unfinished, queued again; the messenger follows them.
    restored: tuple[Restored, ...] = ()
    # When /imagine answers Discord before its decision (a burst): see core.submit.
    pacer: Pacer = field(default_factory=Pacer)
    # The GPU workers (this process's own GPU, or worker processes), for /workers.
    fleet: Fleet = field(default_factory=_NoWorkers)
    # Counters for Prometheus (a registry of its own unless bot.py passes the served one).
    metrics: Metrics = field(default_factory=Metrics)


def configure_endpoints(config: DiscordConfig) -> None:
    """Point discord.py at the configured API and gateway (a proxy, or the test server).

    discord.py only exposes these as class attributes, so this is process-wide by design.
    """
    discord.http.Route.BASE = config.api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)


class ImagineBot(commands.AutoShardedBot):
    """One process, as many gateway shards as `[discord] shard_count` says (0: Discord's
    recommendation, read from GET /gateway/bot at start-up)."""

    def __init__(self, context: BotContext) -> None:
        intents = discord.Intents.default()
        intents.message_content = False  # slash commands only; no privileged intent needed
        shards = context.config.discord.shard_count
        super().__init__(
            shard_count=shards or None,
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            guild_ready_timeout=context.config.discord.guild_ready_timeout,
            allowed_mentions=discord.AllowedMentions(everyone=False, roles=False, users=True),
            # discord.py's default opens a new connection for every request in flight; a burst
            # of answers then spends its time on handshakes (TLS with Discord). A bounded pool
            # keeps them alive and reuses them.
            connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS),
            http_trace=context.metrics.discord_trace(),  # HTTP errors and rate limits, for the metrics
        )
        self.context = context
        context.gate.set_modlog_poster(self.post_modlog)
        self.tree.on_error = self.on_app_command_error  # type: ignore[method-assign]

    async def launch_shards(self) -> None:
        if self.shard_count is None:
            # discord.py would connect to the gateway URL that GET /gateway/bot names; take only
            # the recommended count from it, so the configured gateway_url (a proxy, the local
            # test server) is the one used either way.
            self.shard_count, _, _ = await self.http.get_bot_gateway()
            log.info("%d shard(s), as Discord recommends", self.shard_count)
        await super().launch_shards()

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        # Names and descriptions in each member's client language (read before the sync).
        await self.tree.set_translator(CommandTranslator(shipped_catalogs()))
        context = self.context
        await context.messenger.resume(self, context.restored, context.gate.rules_for)
        guild_id = self.context.config.discord.dev_guild_id
        if guild_id is not None:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to dev guild %s", len(synced), guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands (Discord may take up to an hour to show changes)", len(synced))

    async def post_modlog(self, channel_id: int, attempt: BlockedAttempt) -> None:
        """The gate's ModlogPoster: a refused request, posted without pinging anyone, in the server's language."""
        channel = self.get_channel(channel_id) or await self.fetch_channel(channel_id)
        if isinstance(channel, discord.abc.Messageable):
            # Moderators read it in the server's language (Community servers set it; English otherwise).
            guild = getattr(channel, "guild", None)
            locale = guild.preferred_locale if guild is not None else "en-US"
            await channel.send(blocked_attempt_text(attempt, locale), allowed_mentions=discord.AllowedMentions.none())

    async def on_ready(self) -> None:
        log.info("connected as %s (%s) to %d guilds", self.user, getattr(self.user, "id", "?"), len(self.guilds))

    async def on_app_command_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        await funnel.report(interaction, error, f"/{getattr(interaction.command, 'qualified_name', '?')}")


async def command_texts() -> list[Key]:
    """Every translatable text of the commands, from the cogs loaded into a bot that never
    connects (the catalogs' template is made from this; see scripts/i18n.py)."""
    bot = commands.Bot(command_prefix=commands.when_mentioned, intents=discord.Intents.none())
    for extension in EXTENSIONS:
        await bot.load_extension(extension)
    every: list[AnyCommand] = [
        *bot.tree.get_commands(type=discord.AppCommandType.chat_input),
        *bot.tree.get_commands(type=discord.AppCommandType.message),
    ]
    return list(dict.fromkeys(command_strings(every)))
