from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from core.config import Config, load_config, parse_config, require_token
from core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_is_valid_and_equals_the_defaults() -> None:
    assert load_config(ROOT / "config.example.toml") == Config()


def test_every_key_is_documented_in_the_example() -> None:
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    defaults = Config()
    for section in ("discord", "model", "database", "generation", "moderation", "logging"):
        documented = set(example[section])
        fields = set(type(getattr(defaults, section)).__dataclass_fields__)
        assert documented == fields, section


def test_every_example_key_has_a_comment() -> None:
    lines = (ROOT / "config.example.toml").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^\w+ =", line):
            assert lines[index - 1].startswith("#"), f"undocumented key: {line}"


def test_env_token_overrides_the_file(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('[discord]\ntoken = "from-file"\n')
    assert load_config(file, {}).discord.token == "from-file"
    assert load_config(file, {"DISCORD_TOKEN": "from-env"}).discord.token == "from-env"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"modle": {}}, "unknown section [modle]"),
        ({"model": {"sorce": "x"}}, "unknown key [model] sorce"),
        ({"model": {"device": "tpu"}}, "[model] device = 'tpu' is not allowed; use one of: auto, cuda, cpu"),
        ({"model": {"dtype": "fp8"}}, "[model] dtype"),
        ({"model": {"source": "  "}}, "[model] source must not be empty"),
        ({"discord": {"dev_guild_id": -3}}, "[discord] dev_guild_id must be a Discord id"),
        ({"discord": {"api_base_url": "discord.com"}}, "[discord] api_base_url must start with http"),
        ({"discord": {"gateway_url": "http://x"}}, "[discord] gateway_url must start with ws"),
        ({"database": {"url": "sqlite:///x.db"}}, "[database] url must be an async SQLAlchemy URL"),
        ({"generation": {"max_prompt_chars": 0}}, "[generation] max_prompt_chars must be a positive integer"),
        ({"generation": {"job_timeout_s": "soon"}}, "[generation] job_timeout_s must be a positive number"),
        ({"generation": {"job_timeout_s": float("nan")}}, "[generation] job_timeout_s must be a positive number"),
        ({"generation": {"progress_interval_s": float("inf")}}, "[generation] progress_interval_s must be a positive"),
        ({"discord": {"token": 5}}, "[discord] token must be a string"),
        ({"discord": "yes"}, "[discord] must be a table"),
    ],
)
def test_bad_values_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert message in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found; copy config.example.toml"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[discord\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)


def test_empty_token_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        require_token(Config())


def test_dev_guild_zero_means_unset() -> None:
    assert parse_config({"discord": {"dev_guild_id": 0}}).discord.dev_guild_id is None
    assert parse_config({"discord": {"dev_guild_id": 123}}).discord.dev_guild_id == 123
