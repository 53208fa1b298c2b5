"""The process's log lines: text for people, or JSON (one object per line) for log collectors.

JSON through python-json-logger rather than a hand-written formatter: it already turns any
extra attribute (the job tag below) into a key, serialises what json.dumps cannot, and formats
exceptions and timestamps the way collectors expect; it is small, typed and maintained.
"""

from __future__ import annotations

import logging
import os
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from core.config import LoggingConfig
from jobs.context import CURRENT

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose INFO lines say nothing an admin acts on (alembic's plugin list, discord.py's
# per-request lines, the Hub's downloads): they speak from WARNING up, whatever [logging] level says.
QUIET = ("alembic", "discord", "httpx", "httpcore", "huggingface_hub", "urllib3", "asyncio", "nats", "PIL")


class JobTagFilter(logging.Filter):
    """Adds ``job_id`` and ``member_id`` to a line written while a job is handled (jobs.context):
    one id for one job, a list for a batch."""

    def filter(self, record: logging.LogRecord) -> bool:
        tag = CURRENT.get()
        if tag is not None:
            record.job_id = tag.job_ids[0] if len(tag.job_ids) == 1 else list(tag.job_ids)
            record.member_id = tag.member_ids[0] if len(tag.member_ids) == 1 else list(tag.member_ids)
        return True


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        return JsonFormatter(
            "{levelname}{name}{message}",
            style="{",
            timestamp="time",  # ISO 8601, UTC
            rename_fields={"levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


def adopt_library_handlers() -> None:
    """huggingface_hub, transformers and diffusers add a plain-text handler of their own when
    imported: their lines go through the process's handler ([logging] format) instead."""
    for name in ("huggingface_hub", "transformers", "diffusers"):
        library = logging.getLogger(name)
        for handler in library.handlers[:]:
            library.removeHandler(handler)
        library.propagate = True


def configure_logging(config: LoggingConfig, stream: TextIO) -> None:
    """One handler on the root logger, in the configured format and level."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(config.format))
    handler.addFilter(JobTagFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(config.level)
    logging.captureWarnings(True)  # a library's DeprecationWarning becomes a line like the others
    if config.format == "json":  # a download's progress bar is no line for a log collector
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read at huggingface_hub's import
    threshold = max(logging.WARNING, logging.getLevelNamesMapping()[config.level])
    # transformers' warnings are about parts the bot does not use (image processors without
    # torchvision); it reads this once, at import, before any of its lines could be adopted.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    # The Hub client warns at every retry of a download that will fail anyway (the bot says why).
    os.environ.setdefault("HF_HUB_VERBOSITY", "error")
    for name in QUIET:
        logging.getLogger(name).setLevel(threshold)
