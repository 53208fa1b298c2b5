"""[logging] format = "json": one object per line, with job_id and member_id on the lines about a job."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import LoggingConfig
from core.logs import configure_logging
from jobs.context import tag_jobs
from jobs.model import ActiveJob
from tests.support.logging_state import root_logging_kept
from tests.support.requests import sample_request


@pytest.fixture
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # configure_logging sets these library switches for the process; undone after each test.
    for name in ("TRANSFORMERS_VERBOSITY", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.delenv(name, raising=False)
    with root_logging_kept():
        yield


def _job(job_id: int, user_id: int) -> ActiveJob:
    return ActiveJob(job_id, sample_request(user_id=user_id), asyncio.get_running_loop().create_future())


async def test_json_lines_carry_the_job_and_member(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingConfig(level="INFO", format="json"), stream)
    log = logging.getLogger("jobs.service")

    async def one_job() -> None:
        tag_jobs([_job(7, 1001)])
        log.info("job %s queued", 7)
        await asyncio.to_thread(log.info, "in the pipeline's thread")

    async def batch() -> None:
        tag_jobs([_job(8, 1001), _job(9, 1002)])
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            log.exception("batch failed")

    log.info("not about a job")
    await asyncio.create_task(one_job())
    await asyncio.create_task(batch())
    log.info("still not about a job")  # a task's tag does not leak out of it
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "not about a job",
        "job 7 queued",
        "in the pipeline's thread",
        "batch failed",
        "still not about a job",
    ]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert lines[1]["level"] == "INFO" and lines[1]["logger"] == "jobs.service"
    assert (lines[1]["job_id"], lines[1]["member_id"]) == (7, 1001)
    assert (lines[2]["job_id"], lines[2]["member_id"]) == (7, 1001)
    assert (lines[3]["job_id"], lines[3]["member_id"]) == ([8, 9], [1001, 1002])
    assert "RuntimeError: boom" in lines[3]["exc_info"]
    assert "job_id" not in lines[0] and "job_id" not in lines[4]


def test_text_is_the_default(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingConfig(), stream)
    logging.getLogger("bot").info("hello")
    assert stream.getvalue().endswith(" INFO bot: hello\n")


def test_libraries_speak_from_warning_up(restore_logging: None) -> None:
    stream = io.StringIO()
    configure_logging(LoggingConfig(level="DEBUG"), stream)
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.schemas")
    logging.getLogger("discord.client").warning("PyNaCl is not installed")
    logging.getLogger("bot").debug("ours")
    assert "setup plugin" not in stream.getvalue()
    assert "ours" in stream.getvalue()


@pytest.mark.e2e
async def test_a_bot_runs_json_log_parses_line_by_line(tmp_path: Path, fast_model_dir: Path) -> None:
    from tests.e2e.conftest import running_world
    from tests.e2e.pictures import pngs

    async with running_world("sqlite", tmp_path, fast_model_dir, logging={"format": "json"}) as world:
        ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl", "steps": 1})
        await ix.wait_for(lambda i: bool(pngs(i)), timeout=120)
    lines = [json.loads(line) for line in (tmp_path / "bot.log").read_text().splitlines()]
    about_jobs = [line for line in lines if "job_id" in line]
    assert any(line["message"].startswith("job 1 queued") for line in about_jobs)
    assert any(line["logger"] == "generation.worker" for line in about_jobs)
    assert all(line["job_id"] == 1 and line["member_id"] == world.alice.id for line in about_jobs)
