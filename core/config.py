"""Configuration: a TOML file, validated at start-up with errors that name the bad key.

Every key is documented in ``config.example.toml``; keep the two in step (a test checks it).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError

DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"
DEFAULT_MODEL = "cagliostrolab/animagine-xl-3.1"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/bot.db"

DEVICES = ("auto", "cuda", "cpu")
DTYPES = ("auto", "float16", "bfloat16", "float32")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# Annotations the validator reads by name: a count where 0 means "unlimited/off", seconds
# where 0 means "none", and a list of names.
Count = int
Seconds = float
Names = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    token: str = ""
    api_base_url: str = DISCORD_API
    gateway_url: str = DISCORD_GATEWAY
    dev_guild_id: int | None = None
    # How long discord.py waits for GUILD_CREATEs before on_ready; tests use a small value.
    guild_ready_timeout: float = 2.0


@dataclass(frozen=True, slots=True)
class ModelConfig:
    source: str = DEFAULT_MODEL
    # "auto" = the fp16-safe SDXL VAE when running in float16 on CUDA (as the official app
    # does), the model's own otherwise; "" = always the model's own; or a repo id/folder/file.
    vae: str = "auto"
    device: str = "auto"
    dtype: str = "auto"
    # Local diffusers folder whose component configs a single .safetensors file is read
    # with; empty means diffusers fetches the SDXL base configs from the Hub once.
    single_file_config: str = ""
    # Where Hub downloads are kept; empty = the Hugging Face default (~/.cache/huggingface/hub).
    cache_dir: str = ""
    name: str = "animagine-xl-3.1"
    # The A1111 short hash written to image metadata; empty = computed from a single
    # file source (sha256, first 10 hex), omitted otherwise.
    hash: str = ""
    # GPU speed-ups; "auto" = on with CUDA, off on the CPU (where they gain nothing).
    channels_last: str = "auto"
    fuse_qkv: str = "auto"
    compile: str = "off"  # torch.compile of the UNet and VAE decoder (long start-up, faster steps)
    # Where compiled kernels are kept between restarts (TORCHINDUCTOR_CACHE_DIR wins if set).
    compile_cache_dir: str = "data/compile-cache"
    warmup: str = "auto"  # small generations at start-up, so no member waits for the first kernels
    # Decode the VAE one image at a time from this many images in a call (saves memory).
    vae_slicing_from: int = 4


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = DEFAULT_DATABASE_URL


@dataclass(frozen=True, slots=True)
class GenerationConfig:
    max_prompt_chars: int = 1500
    max_negative_chars: int = 1500
    # Wall-clock limit for one job on the GPU; a stuck job must not stall the queue forever.
    job_timeout_s: float = 600.0
    # Minimum seconds between edits of a job's status message (Discord rate limits).
    progress_interval_s: float = 3.0
    max_queue: int = 100
    # Most images in one pipeline call: the next jobs in line with the same size, steps and CFG
    # share it (each keeps its own seed and image). 1 = one job at a time.
    max_batch: int = 4


@dataclass(frozen=True, slots=True)
class QuotaConfig:
    # Images per member per day (per server; DMs count as one more "server"); 0 = unlimited.
    daily_images: Count = 50
    # Jobs one member may have queued or running at once; 0 = unlimited.
    max_active: Count = 3
    # Seconds a member waits between two accepted requests; 0 = no cooldown.
    cooldown_s: Seconds = 5.0
    # Images per server per day, all members together; 0 = no server budget.
    guild_daily_budget: Count = 0
    # Hour (UTC, 0-23) at which daily counts start again.
    reset_hour_utc: Count = 0
    # Role names or ids whose members' jobs go ahead of the others' (round-robin among equals).
    priority_roles: Names = ()


@dataclass(frozen=True, slots=True)
class ModerationConfig:
    # Output check after generation: "none" or "wd14" (an ONNX anime tagger's rating head).
    classifier: str = "none"
    classifier_model: str = "SmilingWolf/wd-vit-tagger-v3"
    classifier_device: str = "cpu"


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class Config:
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    moderation: ModerationConfig = field(default_factory=ModerationConfig)
    quota: QuotaConfig = field(default_factory=QuotaConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)


_SECTIONS: dict[str, type[Any]] = {
    "discord": DiscordConfig,
    "model": ModelConfig,
    "database": DatabaseConfig,
    "generation": GenerationConfig,
    "moderation": ModerationConfig,
    "quota": QuotaConfig,
    "logging": LoggingConfig,
}

_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("model", "device"): DEVICES,
    ("model", "dtype"): DTYPES,
    ("logging", "level"): LOG_LEVELS,
    ("moderation", "classifier"): ("none", "wd14"),
    ("moderation", "classifier_device"): DEVICES,
    ("model", "channels_last"): ("auto", "on", "off"),
    ("model", "fuse_qkv"): ("auto", "on", "off"),
    ("model", "compile"): ("on", "off"),
    ("model", "warmup"): ("auto", "on", "off"),
}


def _check_value(section: str, key: str, value: Any, annotation: str) -> Any:
    where = f"[{section}] {key}"
    if annotation == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        choices = _CHOICES.get((section, key))
        if choices is not None:
            normalised = value.upper() if section == "logging" else value.lower()
            if normalised not in choices:
                raise ConfigError(f"{where} = {value!r} is not allowed; use one of: {', '.join(choices)}")
            return normalised
        return value
    if annotation == "int | None":
        # 0 and "" mean "not set" so the example file can show the key without a value.
        if value in (0, ""):
            return None
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where} must be a Discord id (a positive integer), got {value!r}")
        return value
    if annotation == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{where} must be a positive integer, got {value!r}")
        return value
    if annotation == "Count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where} must be a whole number, 0 or more (0 = unlimited/off), got {value!r}")
        return value
    if annotation == "Seconds":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{where} must be a number of seconds, 0 or more, got {value!r}")
        return float(value)
    if annotation == "Names":
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise ConfigError(f"{where} must be a list of names, e.g. [\"Patron\", \"Server Booster\"], got {value!r}")
        return tuple(v.strip() for v in value)
    if annotation == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{where} must be a positive number, got {value!r}")
        return float(value)
    raise AssertionError(f"unhandled annotation {annotation} for {where}")


def _build_section(name: str, cls: type[Any], raw: Any) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[{name}] must be a table of keys")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key [{name}] {unknown[0]}; allowed keys in [{name}]: {', '.join(fields)}")
    values = {key: _check_value(name, key, raw[key], str(fields[key].type)) for key in raw}
    return cls(**values)


def _check_urls(config: Config) -> None:
    d = config.discord
    if not d.api_base_url.startswith(("http://", "https://")):
        raise ConfigError(f"[discord] api_base_url must start with http:// or https://, got {d.api_base_url!r}")
    if not d.gateway_url.startswith(("ws://", "wss://")):
        raise ConfigError(f"[discord] gateway_url must start with ws:// or wss://, got {d.gateway_url!r}")
    if not config.database.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "[database] url must be an async SQLAlchemy URL: sqlite+aiosqlite:///path/to/bot.db "
            f"or postgresql+asyncpg://user@host/db, got {config.database.url!r}"
        )
    if config.quota.reset_hour_utc > 23:
        raise ConfigError(f"[quota] reset_hour_utc must be an hour from 0 to 23, got {config.quota.reset_hour_utc}")
    if not config.model.source.strip():
        raise ConfigError("[model] source must not be empty: a Hub repo id, a diffusers folder or a .safetensors file")


def parse_config(raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """Validate a parsed TOML document; ``DISCORD_TOKEN`` in ``env`` overrides the file's token."""
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]; allowed sections: {', '.join(_SECTIONS)}")
    sections = {name: _build_section(name, cls, raw.get(name, {})) for name, cls in _SECTIONS.items()}
    config = Config(**sections)
    token = (env or {}).get("DISCORD_TOKEN", "").strip()
    if token:
        config = dataclasses.replace(config, discord=dataclasses.replace(config.discord, token=token))
    _check_urls(config)
    return config


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(file)!r} not found; copy config.example.toml to {str(file)!r} and edit it"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(file)!r}: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    return parse_config(raw, env)


def require_token(config: Config) -> str:
    if not config.discord.token:
        raise ConfigError(
            "[discord] token is empty; set it in the config file or the DISCORD_TOKEN environment variable"
        )
    return config.discord.token
