"""`python bot.py check`: each kind of bad config gets its message and exit code; a good config,
against the local Discord, exits 0 and prints the invite URL."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core import check
from core.config import Config, DiscordConfig, ModelConfig, ModerationConfig, WorkersConfig
from core.invite import invite_url
from core.probes import check_classifier, check_database, check_discord, check_model, check_nats
from prompt.ratings import Rating
from tests.e2e.harness import ROOT
from tests.fakediscord import FakeDiscord
from tests.support.tiny_wd14 import constant_rating_model, labels_beside


@pytest.fixture
async def discord_server() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _run(path: Path) -> tuple[int, str]:
    out = io.StringIO()
    return check.main(str(path), out, env={}), out.getvalue()


def test_missing_config_file(tmp_path: Path) -> None:
    code, out = _run(tmp_path / "nope.toml")
    assert code == 2
    assert "copy config.example.toml" in out


def test_bad_toml(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[discord\n")
    code, out = _run(tmp_path / "c.toml")
    assert code == 2
    assert "invalid TOML" in out


def test_bad_values_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[quota]\ndaily_images = -1\n[model]\ndevice = 'tpu'\n")
    code, out = _run(tmp_path / "c.toml")
    assert code == 2
    lines = out.splitlines()
    assert any(line.startswith("FAIL  config: [quota] daily_images") for line in lines)
    assert any(line.startswith("FAIL  config: [model] device = 'tpu' is not allowed") for line in lines)


async def test_database_unreachable() -> None:
    finding = await check_database("postgresql+asyncpg://bot:secret@127.0.0.1:1/bot")
    assert not finding.ok
    assert "cannot open postgresql+asyncpg://bot:***@127.0.0.1:1/bot" in finding.message
    assert "[database] url" in finding.fix


async def test_database_states(tmp_path: Path) -> None:
    from db.engine import create_engine
    from db.migrate import upgrade_to_head

    url = f"sqlite+aiosqlite:///{tmp_path}/bot.db"
    fresh = await check_database(url)
    assert fresh.ok and "will be created and migrated at start" in fresh.message
    assert not (tmp_path / "bot.db").exists()  # the check creates nothing
    engine = create_engine(url)
    await upgrade_to_head(engine)
    await engine.dispose()
    assert "migrations at head" in (await check_database(url)).message


def test_model_path_missing() -> None:
    finding = check_model(ModelConfig(source="/nowhere/animagine.safetensors"))
    assert not finding.ok
    assert "was not found" in finding.message and "[model] source" in finding.fix


def test_model_folder_not_diffusers(tmp_path: Path) -> None:
    finding = check_model(ModelConfig(source=str(tmp_path)))
    assert not finding.ok
    assert "folder without model_index.json" in finding.message


def test_model_repo_offline() -> None:
    # conftest sets HF_HUB_OFFLINE: a repo that is not in the cache is reported, not looked up.
    finding = check_model(ModelConfig(source="nobody/not-a-model", cache_dir="/nonexistent-cache"))
    assert not finding.ok
    assert "not in the Hugging Face cache and HF_HUB_OFFLINE is set" in finding.message


def test_classifier_model_missing(tmp_path: Path) -> None:
    finding = check_classifier(ModerationConfig(classifier="wd14", classifier_model=str(tmp_path / "tagger.onnx")))
    assert not finding.ok
    assert "does not exist" in finding.message and 'classifier = "none"' in finding.fix
    (tmp_path / "tagger").mkdir()
    empty = check_classifier(ModerationConfig(classifier="wd14", classifier_model=str(tmp_path / "tagger")))
    assert not empty.ok and "without model.onnx" in empty.message


async def test_token_refused(discord_server: FakeDiscord) -> None:
    config = DiscordConfig(token="wrong", api_base_url=discord_server.api_base_url)
    finding, identity = await check_discord(config)
    assert identity is None
    assert finding.message == "the token was refused (401 Unauthorized)"
    assert "Reset Token" in finding.fix


async def test_discord_unreachable() -> None:
    finding, _ = await check_discord(DiscordConfig(token="x", api_base_url="http://127.0.0.1:1/api/v10"))
    assert not finding.ok
    assert "cannot reach Discord at http://127.0.0.1:1/api/v10" in finding.message


@pytest.mark.slow  # waits out the NATS connect timeout
async def test_nats_unreachable() -> None:
    finding = await check_nats(WorkersConfig(backend="nats", nats_url="nats://127.0.0.1:1"))
    assert not finding.ok
    assert "cannot connect to NATS at nats://127.0.0.1:1" in finding.message


async def test_report_exit_code_follows_the_findings(discord_server: FakeDiscord, tmp_path: Path) -> None:
    config = Config(
        discord=DiscordConfig(token=discord_server.token, api_base_url=discord_server.api_base_url),
        model=ModelConfig(source=str(tmp_path / "missing")),
        moderation=ModerationConfig(classifier="none"),
    )
    config = dataclasses.replace(
        config, database=dataclasses.replace(config.database, url="sqlite+aiosqlite:///:memory:")
    )
    report = await check.run_checks(config)
    assert not report.ok
    assert [f.name for f in report.findings if not f.ok] == ["model"]


async def test_good_config_against_the_local_discord(
    discord_server: FakeDiscord, tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\ntoken = "{discord_server.token}"\napi_base_url = "{discord_server.api_base_url}"\n'
        f'[model]\nsource = "{tiny_model_dir}"\n[moderation]\nclassifier = "none"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/bot.db"\n'
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bot.py"),
        "check",
        "--config",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    bot = discord_server.state.bot_user
    assert f"logged in as {bot.username} ({bot.id})" in output
    assert f"invite URL: {invite_url(discord_server.application_id)}" in output
    assert "scope=bot+applications.commands&permissions=" in output


def test_the_minor_rule_needs_the_labels_beside_a_local_tagger(tmp_path: Path) -> None:
    model = constant_rating_model(tmp_path / "tagger" / "model.onnx", Rating.GENERAL)
    for source in (model, model.parent):
        finding = check_classifier(ModerationConfig(classifier="wd14", classifier_model=str(source)))
        assert not finding.ok and "no selected_tags.csv beside model.onnx" in finding.message
        assert "minor_check = false" in finding.fix
        off = ModerationConfig(classifier="wd14", classifier_model=str(source), minor_check=False)
        assert check_classifier(off).ok
    labels_beside(model)
    assert check_classifier(ModerationConfig(classifier="wd14", classifier_model=str(model.parent))).ok
