"""``python bot.py check --config X``: everything the bot needs, checked before it starts.

Prints one line per check (and the fix under each problem), then the invite URL. Exit code:
0 when all is well, 1 when something needs fixing, 2 when the config cannot be read.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from core.config import Config, ConfigProblems, load_config
from core.errors import ConfigError
from core.invite import invite_url
from core.probes import (
    Finding,
    Identity,
    check_classifier,
    check_database,
    check_discord,
    check_model,
    check_nats,
)


@dataclass(frozen=True, slots=True)
class Report:
    findings: tuple[Finding, ...]
    identity: Identity | None

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings)


async def run_checks(config: Config, *, worker: bool = False) -> Report:
    """The bot's checks (database, Discord, and the model and output check when it runs them
    itself, or NATS when GPU workers do); ``worker`` checks a GPU worker's config instead."""
    findings: list[Finding] = []
    identity: Identity | None = None
    if not worker:
        findings.append(await check_database(config.database.url))
        discord, identity = await check_discord(config.discord)
        findings.append(discord)
    if worker or config.workers.backend == "local":
        # The Hub lookups block (HTTP with a timeout): off the event loop, both at once.
        model, classifier = await asyncio.gather(
            asyncio.to_thread(check_model, config.model),
            asyncio.to_thread(check_classifier, config.moderation),  # the Hub default cache, as the bot loads it
        )
        findings += [model, classifier]
    if config.workers.backend == "nats":
        findings.append(await check_nats(config.workers))
    return Report(tuple(findings), identity)


def print_report(report: Report, out: TextIO) -> None:
    for finding in report.findings:
        print(f"{'ok  ' if finding.ok else 'FAIL'}  {finding.name}: {finding.message}", file=out)
        if finding.fix:
            print(f"      fix: {finding.fix}", file=out)
    if report.identity is not None:
        print(f"\ninvite URL: {invite_url(report.identity.application_id)}", file=out)
    print("\nall is well" if report.ok else "\nsomething needs fixing (see FAIL above)", file=out)


def main(path: str, out: TextIO, env: Mapping[str, str] | None = None, *, worker: bool = False) -> int:
    try:
        config = load_config(path, os.environ if env is None else env)
    except ConfigProblems as exc:
        for problem in exc.problems:
            print(f"FAIL  config: {problem}", file=out)
        return 2
    except ConfigError as exc:
        print(f"FAIL  config: {exc}", file=out)
        return 2
    print(f"ok    config: {path}", file=out)
    report = asyncio.run(run_checks(config, worker=worker))
    print_report(report, out)
    return 0 if report.ok else 1
