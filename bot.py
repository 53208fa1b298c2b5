"""Entry point: `python bot.py --config config.toml`, and `python bot.py worker --config
worker.toml` for a GPU worker process (``[workers] backend = "nats"``).

Opens every resource (database, queue, worker, Discord client) here and passes it in, so that
nothing is created at import time and tests can start the bot exactly as an admin does.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.config import Config, load_config, require_token
from core.errors import ConfigError
from core.startup import StartFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from core.attachments import AttachmentFetcher
    from core.client import ImagineBot
    from core.health import Check
    from core.messenger import JobMessenger
    from core.metrics import Metrics
    from core.pacer import Pacer
    from db.audit import AuditLog
    from db.quotas import QuotaStore
    from generation.worker import GenerationWorker
    from jobs.backend import Backend, Fleet
    from jobs.service import GenerationService, Restored
    from moderation.classifier import OutputClassifier
    from moderation.output_check import OutputCheck
    from prompt.options import TokenBudget

log = logging.getLogger("bot")


@dataclass(frozen=True, slots=True)
class Jobs:
    """What runs and follows jobs, opened once and closed at the end."""

    service: GenerationService
    backend: Backend
    tokens: TokenBudget | None  # the loaded model's token count, when this process has it
    fleet: Fleet  # the GPU workers, for /workers
    quotas: QuotaStore
    messenger: JobMessenger
    restored: tuple[Restored, ...]
    pacer: Pacer
    metrics: Metrics
    output_check: OutputCheck  # posts to the mod-log through the gate, once there is one


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Animagine XL 3.1 Discord bot")
    parser.add_argument(
        "command",
        nargs="?",
        choices=("bot", "worker", "check"),
        default="bot",
        help='"bot" (default) runs the Discord bot; "worker" runs a GPU worker process ([workers] backend = "nats"); '
        '"check" checks the config, database, model, token and NATS, and prints the invite URL',
    )
    parser.add_argument("--config", default="config.toml", help="path to the TOML config (default: config.toml)")
    parser.add_argument("--worker", action="store_true", help="with check: check a GPU worker's config")
    return parser.parse_args(argv)


async def _local_backend(config: Config) -> GenerationWorker:
    """This process's own GPU, with the output check beside it."""
    from generation.loader import load_pipeline
    from generation.worker import GenerationWorker

    return GenerationWorker(
        functools.partial(load_pipeline, config.model),
        job_timeout_s=config.generation.job_timeout_s,
        classifier=await _classifier(config),
        max_batch=config.generation.max_batch,
    )


async def _classifier(config: Config) -> OutputClassifier | None:
    from core.errors import ClassifierLoadError
    from moderation.classifier import load_classifier

    m = config.moderation
    try:
        # Downloaded on first use; refusing to start beats silently skipping the check.
        return await asyncio.to_thread(
            functools.partial(
                load_classifier,
                m.classifier,
                m.classifier_model,
                cache_dir=None,
                device=m.classifier_device,
                minor_check=m.minor_check,
            )
        )
    except ClassifierLoadError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"the output check's model ([moderation] classifier_model = {m.classifier_model!r}) could not be "
            f"loaded: {reason}; check the network (it is downloaded from the Hugging Face Hub on first start) "
            'or the path, or turn the output check off with [moderation] classifier = "none"'
        ) from None


async def _open_jobs(
    config: Config, sessions: async_sessionmaker[AsyncSession], audit: AuditLog, metrics: Metrics
) -> Jobs:
    """The job store, the backend (this process's GPU or GPU worker processes) and the service,
    with last run's unfinished jobs queued first."""
    from core.messenger import JobMessenger
    from core.metrics import watch_bot
    from core.pacer import Pacer
    from db.jobs import JobStore
    from db.quotas import QuotaStore
    from jobs.scheduler import FairScheduler
    from jobs.service import GenerationService
    from moderation.output_check import MinorRule, OutputCheck

    backend: Backend
    tokens: TokenBudget | None = None
    fleet: Fleet
    local: GenerationWorker | None = None
    if config.workers.backend == "nats":
        from cluster.backend import NatsBackend

        # The workers run the model and the output check; the bot needs neither (nor torch).
        nats = NatsBackend(config.workers, model=config.model.name)
        await nats.connect()
        backend = fleet = nats
    else:
        local = await _local_backend(config)
        backend = tokens = fleet = local
    quotas = QuotaStore(sessions, config.quota)
    pacer = Pacer()  # under a burst the answers go first, the next batch after them
    scheduler = FairScheduler(config.generation.max_queue)
    service = GenerationService(
        JobStore(sessions, quotas), scheduler, backend, before_batch=pacer.quiet, observer=metrics
    )
    watch_bot(metrics.registry, service, fleet, local)
    # Before anything new is accepted: what the last run left queued or running goes first.
    restored = await service.restore()
    if restored:
        log.info("resuming %d unfinished job(s) from the last run", len(restored))
    m = config.moderation
    # The rule judges what the tagger reports, here or on a GPU worker (the workers' own
    # [moderation] decides whether they read the minor-coded labels).
    minor_rule = MinorRule(m.minor_tag_threshold, m.minor_sexual_threshold) if m.minor_check else None
    output_check = OutputCheck(audit, minor_rule=minor_rule)
    messenger = JobMessenger(service, config.generation.progress_interval_s, output_check)
    return Jobs(service, backend, tokens, fleet, quotas, messenger, tuple(restored), pacer, metrics, output_check)


async def _build_bot(
    config: Config, sessions: async_sessionmaker[AsyncSession], audit: AuditLog, jobs: Jobs
) -> ImagineBot:
    """The moderation gate, the tag data and the Bot with everything the cogs may use."""
    from core.client import BotContext, ImagineBot
    from core.image_input import ImageReader
    from db.policies import PolicyStore
    from db.settings import SettingsStore
    from db.stats import StatsStore
    from moderation.admin import ModerationAdmin
    from moderation.content import ContentFilter
    from moderation.gate import RequestGate
    from moderation.policy import UserInstallPolicy
    from prompt.autocomplete import TagIndex
    from prompt.options import PromptLimits
    from prompt.ratings import Rating
    from prompt.tags import TagDatabase
    from quota.admin import QuotaAdmin

    # Loaded once (about a second for 140k tags), so autocomplete answers per keystroke.
    tags = await asyncio.to_thread(TagDatabase.load)
    tag_index = await asyncio.to_thread(TagIndex.from_database, tags)
    content = await asyncio.to_thread(ContentFilter.load, tags)
    policies = PolicyStore(sessions)
    settings = SettingsStore(sessions)
    await settings.load()
    g = config.generation
    # The worker counts tokens with the loaded model, so a prompt too long to ever run is
    # refused before the quota is charged.
    limits = PromptLimits(
        max_prompt_chars=g.max_prompt_chars, max_negative_chars=g.max_negative_chars, tokens=jobs.tokens
    )
    installs = UserInstallPolicy(
        max_rating=Rating.parse(config.user_installs.max_rating), blocklist=frozenset(config.user_installs.blocked_tags)
    )
    gate = RequestGate(
        policies=policies, audit=audit, content=content, tags=tags, limits=limits, user_installs=installs
    )
    jobs.output_check.set_modlog_notifier(gate.post_to_modlog)
    context = BotContext(
        config=config,
        service=jobs.service,
        tags=tags,
        tag_index=tag_index,
        gate=gate,
        moderation=ModerationAdmin(policies, audit, content.canonicalize_entry),
        audit=audit,
        quotas=QuotaAdmin(jobs.quotas, audit),
        messenger=jobs.messenger,
        settings=settings,
        stats=StatsStore(sessions),
        restored=jobs.restored,
        pacer=jobs.pacer,
        fleet=jobs.fleet,
        images=ImageReader.from_config(config, _fetcher(config), tags),
        metrics=jobs.metrics,
    )
    return ImagineBot(context)


def _fetcher(config: Config) -> AttachmentFetcher:
    """Downloads of members' images: only from Discord's CDN (and the configured API's host, for a
    local Discord), with the [describe] byte cap and timeout."""
    from core.attachments import AttachmentFetcher, allowed_cdn_hosts

    return AttachmentFetcher(
        allowed_hosts=allowed_cdn_hosts(config.discord.api_base_url),
        max_bytes=config.describe.max_image_bytes,
        timeout_s=config.describe.download_timeout_s,
    )


async def _serve(bot: ImagineBot, jobs: Jobs, token: str) -> None:
    """Run until SIGTERM/SIGINT: then new requests are refused; the running job stops at its next
    step and, like every waiting job, stays queued in the database for the next start; finished
    images are still delivered before the connection closes."""
    closing: set[asyncio.Task[None]] = set()

    async def shut_down() -> None:
        try:
            await jobs.service.close()
            await jobs.messenger.drain(timeout=30)
        except Exception:
            log.exception("error while stopping the worker; closing anyway")
        finally:
            await bot.close()

    def request_shutdown(sig: signal.Signals) -> None:
        log.info("%s received: shutting down", sig.name)
        if not closing:
            closing.add(asyncio.create_task(shut_down()))

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_shutdown, sig)
    from core.startup import login

    jobs.service.start()  # the model loads in the background while the bot connects
    async with bot:
        # bot.start(token), with the invite URL logged once the application id is known.
        await login(bot, token, bot.context.config.discord.api_base_url)
        if bot.application_id is not None:
            from core.invite import invite_url

            log.info("invite URL: %s", invite_url(bot.application_id))
        await bot.connect()


async def run(config: Config) -> None:
    # Heavy imports (torch, diffusers) happen in the helpers, after the config was found to be
    # valid, so that a typo in the config is reported in a fraction of a second.
    from prometheus_client import CollectorRegistry

    from core.client import configure_endpoints
    from core.health import serving
    from core.metrics import Metrics
    from db.audit import AuditLog
    from db.engine import create_engine, create_sessionmaker
    from db.migrate import upgrade_to_head

    token = require_token(config)
    if config.workers.backend == "local":
        from core.startup import check_local_model, check_output_check

        await asyncio.to_thread(check_local_model, config.model)
        await asyncio.to_thread(check_output_check, config.moderation, None)  # as _classifier loads it
    configure_endpoints(config.discord)
    quiet_voice()
    engine = create_engine(config.database.url)
    jobs: Jobs | None = None
    try:
        await upgrade_to_head(engine)
        sessions = create_sessionmaker(engine)
        audit = AuditLog(sessions)
        jobs = await _open_jobs(config, sessions, audit, Metrics(CollectorRegistry()))
        bot = await _build_bot(config, sessions, audit, jobs)
        try:
            async with serving(config.metrics.address, jobs.metrics.registry, _readiness(config, bot, jobs, engine)):
                await _serve(bot, jobs, token)
        finally:
            await bot.context.images.close()
    finally:
        if jobs is not None:
            await jobs.service.close()
        await engine.dispose()


def _readiness(config: Config, bot: ImagineBot, jobs: Jobs, engine: AsyncEngine) -> dict[str, Check]:
    """What /readyz checks: the model (or a GPU worker), the gateway, the database."""
    from core.health import database_check, gateway_check, model_check, workers_check

    nats = config.workers.backend == "nats"
    return {
        "workers" if nats else "model": workers_check(jobs.fleet) if nats else model_check(jobs.fleet),
        "gateway": gateway_check(bot),
        "database": database_check(engine),
    }


def quiet_voice() -> None:
    """The bot never joins a voice channel: discord.py's "PyNaCl/davey is not installed, voice
    will NOT be supported" warnings at start-up say nothing to its admin."""
    import discord

    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


def _describe_device() -> tuple[str, float]:
    """The GPU this worker uses (CUDA_VISIBLE_DEVICES picks it), and its memory in GiB."""
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return props.name, round(props.total_memory / 2**30, 1)
    return f"CPU ({os.cpu_count()} cores)", 0.0


async def run_worker(config: Config) -> None:
    """A GPU worker process: loads its model and takes batches from the bot through NATS
    until SIGTERM/SIGINT (the batch it runs then stops at its next step and goes back)."""
    from prometheus_client import CollectorRegistry

    from cluster.worker import WorkerProcess
    from core.health import model_check, serving
    from core.metrics import watch_worker
    from core.startup import check_local_model, check_output_check

    await asyncio.to_thread(check_local_model, config.model)
    await asyncio.to_thread(check_output_check, config.moderation, None)  # as _classifier loads it
    gpu, memory_gb = _describe_device()
    engine = await _local_backend(config)
    process = WorkerProcess(config, engine, gpu=gpu, memory_gb=memory_gb)
    registry = CollectorRegistry()
    watch_worker(registry, engine)
    checks = {"model": model_check(engine), "nats": process.connection_check}
    stop = asyncio.Event()

    def request_stop(sig: signal.Signals) -> None:
        log.info("%s received: stopping the worker", sig.name)
        stop.set()
        process.stop_running()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, request_stop, sig)
    log.info("worker %s on %s, connecting to %s", config.worker.name, gpu, config.workers.nats_url)
    async with serving(config.metrics.address, registry, checks):
        await process.run(stop)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "check":
        from core.check import main as check

        return check(args.config, sys.stdout, worker=args.worker)
    try:
        config = load_config(args.config, os.environ)
        if args.command == "bot":
            require_token(config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    from core.logs import configure_logging

    configure_logging(config.logging, sys.stderr)
    try:
        asyncio.run(run(config) if args.command == "bot" else run_worker(config))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except StartFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a clear last word instead of a bare traceback for admins
        log.exception("the bot stopped because of an error")
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
