"""Discord's 3-second rule under a burst: ``python -m bench.burst [--n 50 150 500] [--backends ...]``.

Starts the local Discord from the tests and the real bot process (``python bot.py``, tiny model,
one step) and fires ``n`` interactions in the same instant through the gateway, the path real
ones take: ``/imagine`` from ``n`` members of one server, the same spread over 50 servers, and
``n`` members clicking Re-roll on one result. Meanwhile another member types in ``prompt`` and
the autocomplete answers are timed. Prints JSON: acknowledgement latency (the time from the
event leaving the gateway to the bot's first response) p50/p99/max, how many were queued and
how many refused (and for what), and whether anything was lost or charged twice (every queued
request has exactly one job and its image is counted exactly once).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.stats import percentile
from db.engine import create_engine
from db.models import Job, QuotaUsage
from tests.conftest import create_postgres_database, drop_postgres_database
from tests.e2e.harness import BotProcess, write_config
from tests.fakediscord import FakeDiscord
from tests.fakediscord.state import Channel, Interaction, User
from tests.support.tiny_sdxl import save_tiny_sdxl

WINDOW_S = 3.0
EPHEMERAL = 1 << 6
DEFERRED, MESSAGE, AUTOCOMPLETE = 5, 4, 8
PROMPT = "1girl, smile, outdoors"


def _stats(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_s": None, "p99_s": None, "max_s": None}

    def pct(q: float) -> float:
        return round(percentile(values, q), 4)

    return {"n": len(values), "p50_s": pct(0.5), "p99_s": pct(0.99), "max_s": pct(1.0)}


@dataclass
class Stage:
    server: FakeDiscord
    bot: BotProcess
    database_url: str
    channels: list[Channel]
    members: list[User]
    typist: User


@contextlib.asynccontextmanager
async def _stage(backend: str, workdir: Path, model: Path, n: int, servers: int) -> AsyncIterator[Stage]:
    database_url = (
        f"sqlite+aiosqlite:///{workdir / 'data' / 'bot.db'}"
        if backend == "sqlite"
        else await create_postgres_database()
    )
    server = FakeDiscord()
    await server.start()
    channels = []
    for index in range(servers):
        guild = server.add_guild(f"guild-{index}")
        channels.append(server.add_channel(guild.id, "general"))
    members = [server.add_user(f"member-{i}") for i in range(n)]
    for i, member in enumerate(members):
        server.add_member(channels[i % servers].guild_id or 0, member.id)
    typist = server.add_user("typist")
    server.add_member(channels[0].guild_id or 0, typist.id)
    # The defaults an admin starts with ([generation] max_queue 100, [quota] 50/day, 3 at once,
    # 5 s cooldown), one denoising step so the GPU side stays out of the way.
    config = write_config(
        workdir / "config.toml", server, model=model, database_url=database_url, generation={"progress_interval_s": 3.0}
    )
    bot = BotProcess(config=config, log=workdir / "bot.log")
    await bot.start()
    try:
        await server.wait_until_ready(timeout=120)
        await server.wait_for(lambda: server.commands(), timeout=60)
        yield Stage(server, bot, database_url, channels, members, typist)
    finally:
        await bot.stop()
        await server.stop()
        if backend != "sqlite":
            await drop_postgres_database(database_url)


async def _probe_autocomplete(stage: Stage, stop: asyncio.Event, times: list[float]) -> None:
    """A member typing a tag while the burst lands: each keystroke's answer time."""
    while not stop.is_set():
        ix = await stage.server.autocomplete(
            stage.typist, stage.channels[0], "imagine", {"prompt": "long_ha"}, focused="prompt"
        )
        with contextlib.suppress(TimeoutError):
            await stage.server.wait_for(functools.partial(_answered, ix), timeout=WINDOW_S + 1)
        if ix.responses:
            times.append(ix.responses[0].received_after)
        await asyncio.sleep(0.1)


def _cpu_s(pid: int) -> tuple[float, float]:
    """User + system CPU seconds so far (Linux) of a process's main thread (the event loop) and
    of all its threads (with the GPU worker and the database threads)."""

    def seconds(stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    return seconds(Path(f"/proc/{pid}/task/{pid}/stat")), seconds(Path(f"/proc/{pid}/stat"))


def _answered(ix: Interaction) -> bool:
    return bool(ix.responses or ix.rejected)


def _outcome(ix: Interaction) -> str:
    if not ix.responses:
        return "unanswered"
    first = ix.responses[0]
    if first.received_after > WINDOW_S:
        return "late"
    if first.type == MESSAGE and (first.data or {}).get("flags", 0) & EPHEMERAL:
        return "refused"
    if (
        first.type == DEFERRED
        and any(m.ephemeral for m in ix.followups)
        and (ix.original is None or ix.original.deleted)
    ):
        return "refused"
    return "queued" if first.type == DEFERRED else "other"


def _reason(ix: Interaction) -> str:
    texts = [str((r.data or {}).get("content", "")) for r in ix.responses] + [m.content for m in ix.followups]
    text = " ".join(texts).lower()
    for key, words in (("queue full", "queue is full"), ("quota", "image"), ("cooldown", "cooldown")):
        if words in text:
            return key
    return "other"


async def _fire(stage: Stage, kind: str) -> list[Interaction]:
    server = stage.server
    if kind == "reroll":
        first = await server.invoke(stage.typist, stage.channels[0], "imagine", {"prompt": PROMPT, "steps": 1})
        message = await server.wait_for_message(
            lambda m: m.interaction_id == first.id and bool(m.attachments) and bool(m.components), timeout=120
        )
        custom_id = next(
            c["custom_id"] for row in message.components for c in row["components"] if "reroll" in c["custom_id"]
        )
        calls = [server.click(member, message, custom_id) for member in stage.members]
    else:
        calls = [
            server.invoke(member, stage.channels[i % len(stage.channels)], "imagine", {"prompt": PROMPT, "steps": 1})
            for i, member in enumerate(stage.members)
        ]
    return list(await asyncio.gather(*calls))


async def _settle(stage: Stage, interactions: list[Interaction]) -> None:
    def done(ix: Interaction) -> bool:
        if ix.rejected or not ix.responses or ix.responses[0].type != DEFERRED:
            return bool(ix.rejected or ix.responses)
        # Deferred: settled once the "thinking" message became the queued status, or was
        # replaced by a private refusal.
        return ix.original is not None and (ix.original.deleted or not ix.original.loading)

    def settled() -> bool:
        return all(done(ix) for ix in interactions)

    with contextlib.suppress(TimeoutError):
        await stage.server.wait_for(settled, timeout=60)


async def _ledger(database_url: str, interactions: list[Interaction], members: list[User]) -> dict[str, int]:
    """The burst's jobs (by interaction id) and images, and what its members were charged."""
    engine = create_engine(database_url)
    ids, users = [ix.id for ix in interactions], [m.id for m in members]
    try:
        async with engine.connect() as conn:
            mine = Job.interaction_id.in_(ids)
            jobs = int(await conn.scalar(select(func.count()).select_from(Job).where(mine)) or 0)
            images = int(await conn.scalar(select(func.coalesce(func.sum(Job.images), 0)).where(mine)) or 0)
            charged = int(
                await conn.scalar(
                    select(func.coalesce(func.sum(QuotaUsage.used), 0)).where(QuotaUsage.user_id.in_(users))
                )
                or 0
            )
    finally:
        await engine.dispose()
    return {"jobs": jobs, "images": images, "charged": charged}


async def run_burst(backend: str, n: int, kind: str, servers: int, model: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        async with _stage(backend, Path(tmp), model, n, servers) as stage:
            stop, typing_times = asyncio.Event(), list[float]()
            probe = asyncio.create_task(_probe_autocomplete(stage, stop, typing_times))
            assert stage.bot.process is not None
            cpu_before = _cpu_s(stage.bot.process.pid), time.process_time()
            started = time.perf_counter()
            interactions = await _fire(stage, kind)
            fired_s = time.perf_counter() - started
            await _settle(stage, interactions)
            settled_s = time.perf_counter() - started
            now_loop, now_bot = _cpu_s(stage.bot.process.pid)
            loop_s, bot_s = now_loop - cpu_before[0][0], now_bot - cpu_before[0][1]
            cpu = loop_s, bot_s, time.process_time() - cpu_before[1]
            stop.set()
            await probe
            ledger = await _ledger(stage.database_url, interactions, stage.members)
    outcomes = Counter(_outcome(ix) for ix in interactions)
    acks = [ix.responses[0].received_after for ix in interactions if ix.responses]
    queued = outcomes["queued"]
    return {
        "backend": backend,
        "kind": kind,
        "n": n,
        "servers": servers,
        "fired_in_s": round(fired_s, 3),
        # CPU seconds from the first interaction until every one was settled: the bot process,
        # and this process (the local Discord, which checks every body against Discord's schema).
        "settled_in_s": round(settled_s, 3),
        "cpu_s": {"bot_event_loop": round(cpu[0], 2), "bot": round(cpu[1], 2), "local_discord": round(cpu[2], 2)},
        "ack_latency": _stats(acks),
        "within_3s": sum(1 for a in acks if a <= WINDOW_S),
        "outcomes": dict(outcomes),
        "refused_for": dict(Counter(_reason(ix) for ix in interactions if _outcome(ix) == "refused")),
        "autocomplete_latency": _stats(typing_times),
        # Nothing lost or charged twice: one job per queued request, each image counted once.
        "jobs_recorded": ledger["jobs"],
        "nothing_lost": ledger["jobs"] == queued and ledger["charged"] == ledger["images"],
    }


async def main(ns: list[int], backends: list[str], kinds: list[str]) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        model = await asyncio.to_thread(save_tiny_sdxl, Path(tmp) / "fast-sdxl", attention=False)
        results = []
        for backend in backends:
            for kind in kinds:
                for n in ns:
                    servers = 50 if kind == "imagine-50-servers" else 1
                    results.append(
                        await run_burst(backend, n, "reroll" if kind == "reroll" else "imagine", servers, model)
                    )
                    print(json.dumps(results[-1]), flush=True)
        return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[50, 150, 500])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--kinds",
        nargs="+",
        default=["imagine", "imagine-50-servers", "reroll"],
        choices=["imagine", "imagine-50-servers", "reroll"],
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = parse_args()
    summary = asyncio.run(main(args.n, args.backends, args.kinds))
    print(
        json.dumps(
            {
                "runs": summary,
                "mean_p99_s": statistics.fmean(
                    r["ack_latency"]["p99_s"] for r in summary if r["ack_latency"]["p99_s"] is not None
                ),
            },
            indent=2,
        )
    )
