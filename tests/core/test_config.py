from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from core.config import Config, QuotaConfig, load_config, parse_config, require_token
from core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_is_valid_and_equals_the_defaults() -> None:
    assert load_config(ROOT / "config.example.toml") == Config()


def _sections() -> dict[str, type[object]]:
    defaults = Config()
    return {f.name: type(getattr(defaults, f.name)) for f in dataclasses.fields(Config)}


def test_every_key_is_documented_in_the_example() -> None:
    # Both ways, every section: a key missing from the example is undocumented, and a key only in
    # the example would be refused as unknown by the bot the example is meant for.
    example = tomllib.loads((ROOT / "config.example.toml").read_text())
    sections = _sections()
    assert set(example) == set(sections)
    assert {"discord", "model", "database", "generation", "moderation", "quota", "logging"} <= set(sections)
    for section, cls in sections.items():
        documented = set(example[section])
        fields = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
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
        ({"discord": {"dev_guild_id": True}}, "[discord] dev_guild_id must be a Discord id"),
        ({"discord": {"guild_ready_timeout": 0}}, "[discord] guild_ready_timeout must be a positive number, got 0"),
        ({"generation": {"max_queue": "5"}}, "[generation] max_queue must be a positive integer, got '5'"),
        ({"generation": {"max_batch": True}}, "[generation] max_batch must be a positive integer, got True"),
        ({"model": {"compile": "auto"}}, "[model] compile = 'auto' is not allowed; use one of: on, off"),
        ({"model": {"warmup": 1}}, "[model] warmup = 1 is not allowed; use one of: auto, on, off"),
        (
            {"moderation": {"classifier": "nsfw"}},
            "[moderation] classifier = 'nsfw' is not allowed; use one of: none, wd14",
        ),
        ({"moderation": {"classifier_device": "tpu"}}, "[moderation] classifier_device = 'tpu' is not allowed"),
        ({"moderation": {"classifier_modle": "x"}}, "unknown key [moderation] classifier_modle; allowed keys"),
        ({"logging": {"level": "loud"}}, "[logging] level = 'loud' is not allowed; use one of: DEBUG, INFO, WARNING"),
        ({"quota": {"daily_imgs": 5}}, "unknown key [quota] daily_imgs; allowed keys in [quota]: daily_images"),
        ({"quota": {"daily_images": -1}}, "[quota] daily_images must be a whole number, 0 or more"),
        ({"quota": {"max_active": 1.5}}, "[quota] max_active must be a whole number, 0 or more"),
        ({"quota": {"guild_daily_budget": "10"}}, "[quota] guild_daily_budget must be a whole number, 0 or more"),
        ({"quota": {"cooldown_s": -1}}, "[quota] cooldown_s must be a number of seconds, 0 or more, got -1"),
        ({"quota": {"cooldown_s": float("inf")}}, "[quota] cooldown_s must be a number of seconds"),
        ({"quota": {"reset_hour_utc": 24}}, "[quota] reset_hour_utc must be an hour from 0 to 23, got 24"),
        ({"quota": {"reset_hour_utc": -1}}, "[quota] reset_hour_utc must be an hour from 0 to 23"),
        ({"quota": {"priority_roles": "Patron"}}, "[quota] priority_roles must be a list of names"),
        ({"quota": {"priority_roles": ["Patron", " "]}}, "[quota] priority_roles must be a list of names, e.g."),
        ({"quota": {"priority_roles": [5]}}, "got [5]"),
        ({"quota": []}, "[quota] must be a table"),
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


def test_every_key_names_itself_and_what_it_accepts() -> None:
    # An inline table is wrong for every key; the message must be ours, never pydantic's bare words.
    for section, cls in _sections().items():
        for key in cls.__dataclass_fields__:  # type: ignore[attr-defined]
            with pytest.raises(ConfigError) as info:
                parse_config({section: {key: {"x": 1}}})
            message = str(info.value)
            assert message.startswith(f"[{section}] {key} "), message
            assert "Input should" not in message and "{'x': 1}" in message, message
            assert re.search(r" (must|= \{'x': 1\} is not allowed; use one of:) ", message), message


def test_every_bad_key_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config({"generation": {"max_queue": 0}, "logging": {"level": "loud"}})
    assert "[generation] max_queue" in str(info.value) and "[logging] level" in str(info.value)


def test_choices_ignore_case_and_names_are_trimmed() -> None:
    config = parse_config(
        {
            "model": {"device": "CUDA", "dtype": "Float16", "compile": "ON", "warmup": "Off"},
            "moderation": {"classifier": "WD14", "classifier_device": "Auto"},
            "logging": {"level": "debug"},
            "quota": {"priority_roles": [" Patron ", "Server Booster"]},
        }
    )
    assert (config.model.device, config.model.dtype, config.model.compile, config.model.warmup) == (
        "cuda",
        "float16",
        "on",
        "off",
    )
    assert (config.moderation.classifier, config.moderation.classifier_device) == ("wd14", "auto")
    assert config.logging.level == "DEBUG"
    assert config.quota.priority_roles == ("Patron", "Server Booster")


def test_whole_numbers_are_accepted_as_seconds() -> None:
    config = parse_config({"quota": {"cooldown_s": 0}, "generation": {"job_timeout_s": 60}})
    assert config.quota.cooldown_s == 0.0 and isinstance(config.quota.cooldown_s, float)
    assert config.generation.job_timeout_s == 60.0 and isinstance(config.generation.job_timeout_s, float)


def test_blank_env_token_keeps_the_file_token() -> None:
    raw = {"discord": {"token": "from-file"}}
    assert parse_config(raw, {"DISCORD_TOKEN": "  "}).discord.token == "from-file"
    assert parse_config(raw, {"DISCORD_TOKEN": " from-env\n"}).discord.token == "from-env"
    assert parse_config(raw).discord.token == "from-file"  # no env given: the process's is not read


def test_configs_are_frozen_hashable_values() -> None:
    config = parse_config({"quota": {"priority_roles": ["Patron"]}})
    assert config == parse_config({"quota": {"priority_roles": ["Patron"]}}) != Config()
    assert hash(config) == hash(parse_config({"quota": {"priority_roles": ["Patron"]}}))
    assert len({Config(), Config()}) == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.quota.daily_images = 1  # type: ignore[misc]


def test_replace_gives_a_validated_copy() -> None:
    # Other modules' tests tune one quota with dataclasses.replace; the new value is checked too.
    quota = QuotaConfig()
    assert dataclasses.replace(quota, daily_images=5) == QuotaConfig(daily_images=5)
    assert quota.daily_images == 50
    with pytest.raises(ValueError, match="daily_images"):
        dataclasses.replace(quota, daily_images=-1)


def test_the_output_check_is_on_by_default() -> None:
    # Animagine can make NSFW images unasked (its model card): an admin turns the check off, not on.
    assert Config().moderation.classifier == "wd14"
    assert load_config(ROOT / "config.example.toml").moderation.classifier == "wd14"


def test_the_minor_rule_is_on_by_default_and_its_settings_are_checked() -> None:
    moderation = Config().moderation
    assert (moderation.minor_check, moderation.minor_tag_threshold, moderation.minor_sexual_threshold) == (
        True,
        0.35,
        0.35,
    )
    changed = parse_config({"moderation": {"minor_check": False, "minor_tag_threshold": 0.5}}).moderation
    assert (changed.minor_check, changed.minor_tag_threshold) == (False, 0.5)
    for raw, message in (
        ({"minor_check": "yes"}, "[moderation] minor_check must be true or false, got 'yes'"),
        ({"minor_check": 1}, "[moderation] minor_check must be true or false, got 1"),
        ({"minor_tag_threshold": 0}, "[moderation] minor_tag_threshold must be a number above 0, at most 1, got 0"),
        ({"minor_tag_threshold": 1.5}, "[moderation] minor_tag_threshold must be a number above 0, at most 1"),
        ({"minor_sexual_threshold": "0.3"}, "[moderation] minor_sexual_threshold must be a number above 0, at most 1"),
        ({"minor_sexual_threshold": float("nan")}, "[moderation] minor_sexual_threshold must be a number above 0"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config({"moderation": raw})
        assert message in str(info.value)
