"""Configuration: a TOML file, validated at start-up with errors that name the bad key.

Every key is documented in ``config.example.toml``; keep the two in step (a test checks it).

Each section is a frozen pydantic dataclass: pydantic checks every value against the
constraints written on its annotation (ranges, choices, patterns), and the sections stay real
dataclasses, so callers (the quota tests, for one) keep using ``dataclasses.replace`` on them,
which validates the new values too. A ``BaseModel`` would have lost ``dataclasses.replace``.

Why not pydantic-settings: its TOML source reads a path (``parse_config`` validates a parsed
document, and a missing or malformed file needs its own message), and its environment source
maps ``DISCORD__TOKEN`` or, with ``_`` as the nesting delimiter, every ``SECTION_KEY`` variable
of the process (``LOGGING_LEVEL``, ``MODEL_SOURCE``, …) onto the config, while the bot reads
exactly one variable, ``DISCORD_TOKEN``, from an environment its caller passes in (tests pass a
dict). A settings class would also read the process environment in ``Config()``, which must
stay the plain defaults. So the one override is applied by hand in ``parse_config``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from core.config_types import (
    Count,
    Names,
    RatingName,
    Seconds,
    _Accepts,
    _Backend,
    _Classifier,
    _DatabaseUrl,
    _Device,
    _DiscordId,
    _Dtype,
    _Flag,
    _Hour,
    _HttpUrl,
    _LogFormat,
    _LogLevel,
    _lower,
    _ModelSource,
    _NatsUrl,
    _OnOff,
    _PositiveInt,
    _PositiveNumber,
    _Switch,
    _Text,
    _Token,
    _WebSocketUrl,
    _Whole,
)
from core.config_types import OnOff as OnOff  # re-exported: bench/generation.py names it
from core.errors import ConfigError

DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"
DEFAULT_MODEL = "cagliostrolab/animagine-xl-3.1"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/bot.db"

# A misspelt key is an error, not a line silently ignored.
_SECTION = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True, config=_SECTION)
class DiscordConfig:
    token: _Text = ""
    api_base_url: _HttpUrl = DISCORD_API
    gateway_url: _WebSocketUrl = DISCORD_GATEWAY
    dev_guild_id: _DiscordId = None
    # How long discord.py waits for GUILD_CREATEs before on_ready; tests use a small value.
    guild_ready_timeout: _PositiveNumber = 2.0
    # Gateway shards in this one process (AutoShardedBot); 0 = as many as Discord recommends.
    shard_count: _Whole = 0


@dataclass(frozen=True, slots=True, config=_SECTION)
class ModelConfig:
    source: _ModelSource = DEFAULT_MODEL
    # "auto" = the fp16-safe SDXL VAE when running in float16 on CUDA (as the official app
    # does), the model's own otherwise; "" = always the model's own; or a repo id/folder/file.
    vae: _Text = "auto"
    device: _Device = "auto"
    dtype: _Dtype = "auto"
    # Local diffusers folder whose component configs a single .safetensors file is read
    # with; empty means diffusers fetches the SDXL base configs from the Hub once.
    single_file_config: _Text = ""
    # Where Hub downloads are kept; empty = the Hugging Face default (~/.cache/huggingface/hub).
    cache_dir: _Text = ""
    name: _Text = "animagine-xl-3.1"
    # The A1111 short hash written to image metadata; empty = computed from a single
    # file source (sha256, first 10 hex), omitted otherwise.
    hash: _Text = ""
    # GPU speed-ups; "auto" = on with CUDA, off on the CPU (where they gain nothing).
    channels_last: _Switch = "auto"
    fuse_qkv: _Switch = "auto"
    compile: _OnOff = "off"  # torch.compile of the UNet and VAE decoder (long start-up, faster steps)
    # Where compiled kernels are kept between restarts (TORCHINDUCTOR_CACHE_DIR wins if set).
    compile_cache_dir: _Text = "data/compile-cache"
    warmup: _Switch = "auto"  # small generations at start-up, so no member waits for the first kernels
    # Decode the VAE one image at a time from this many images in a call (saves memory).
    vae_slicing_from: _PositiveInt = 4


@dataclass(frozen=True, slots=True, config=_SECTION)
class DatabaseConfig:
    url: _DatabaseUrl = DEFAULT_DATABASE_URL


@dataclass(frozen=True, slots=True, config=_SECTION)
class GenerationConfig:
    max_prompt_chars: _PositiveInt = 1500
    max_negative_chars: _PositiveInt = 1500
    # Wall-clock limit for one job on the GPU; a stuck job must not stall the queue forever.
    job_timeout_s: _PositiveNumber = 600.0
    # Minimum seconds between edits of a job's status message (Discord rate limits).
    progress_interval_s: _PositiveNumber = 3.0
    max_queue: _PositiveInt = 100
    # Most images in one pipeline call: the next jobs in line with the same size, steps and CFG
    # share it (each keeps its own seed and image). 1 = one job at a time.
    max_batch: _PositiveInt = 4


@dataclass(frozen=True, slots=True, config=_SECTION)
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
    reset_hour_utc: _Hour = 0
    # Role names or ids whose members' jobs go ahead of the others' (round-robin among equals).
    priority_roles: Names = ()


_Threshold = Annotated[
    float, Field(strict=True, gt=0, le=1, allow_inf_nan=False), _Accepts("must be a number above 0, at most 1")
]


@dataclass(frozen=True, slots=True, config=_SECTION)
class ModerationConfig:
    # Output check after generation: "wd14" (an ONNX anime tagger's rating head) or "none".
    # On by default: Animagine can make NSFW images unasked (its model card says so).
    classifier: _Classifier = "wd14"
    classifier_model: _Text = "SmilingWolf/wd-vit-tagger-v3"
    classifier_device: _Device = "cpu"
    # The minor rule of the output check (on whenever classifier = "wd14"): an image tagged
    # minor-coded (loli, child, ...) at minor_tag_threshold or more that is also sexual (rated
    # questionable or explicit, or those two scores together at minor_sexual_threshold or more)
    # is withheld in every channel, audited and posted to the mod-log.
    minor_check: _Flag = True
    minor_tag_threshold: _Threshold = 0.35
    minor_sexual_threshold: _Threshold = 0.35


@dataclass(frozen=True, slots=True, config=_SECTION)
class DescribeConfig:
    """/describe and Remix: the WD14 tagger that turns an image into tags, and what a member's
    image may be."""

    # The output check's model when it is on ([moderation] classifier = "wd14"); this one otherwise.
    tagger_model: _Text = "SmilingWolf/wd-vit-tagger-v3"
    general_threshold: _Threshold = 0.35
    character_threshold: _Threshold = 0.85
    # A member's image: the most bytes downloaded (Discord's own upload limit by default), and
    # how long the download may take.
    max_image_bytes: _PositiveInt = 10 * 1024 * 1024
    download_timeout_s: _PositiveNumber = 15.0


@dataclass(frozen=True, slots=True, config=_SECTION)
class UserInstallsConfig:
    """Where members use the app through their own account (a user install): DMs, group DMs and
    servers without the bot, whose settings the bot cannot read."""

    # The highest rating there, below Discord's own ceiling (explicit only in age-restricted
    # channels, sensitive everywhere else).
    max_rating: Annotated[RatingName, BeforeValidator(_lower)] = "sensitive"
    # Tags refused there, on top of the built-in content rules.
    blocked_tags: Names = ()


@dataclass(frozen=True, slots=True, config=_SECTION)
class LoggingConfig:
    level: _LogLevel = "INFO"
    # "text" for people, "json" (one object per line, with job_id and member_id) for log collectors.
    format: _LogFormat = "text"


@dataclass(frozen=True, slots=True, config=_SECTION)
class WorkersConfig:
    """Where jobs run: "local" (the GPU of this process) or "nats" (GPU worker processes that
    connect to a NATS JetStream server; the same section configures the bot and each worker)."""

    backend: _Backend = "local"
    nats_url: _NatsUrl = "nats://127.0.0.1:4222"
    # One way to authenticate (the server's accounts decide which): user + password, a token,
    # a .creds file (JWT + nkey seed) or an nkey seed file.
    user: _Text = ""
    password: _Text = ""
    token: _Text = ""
    creds_file: _Text = ""
    nkey_seed_file: _Text = ""
    # TLS for a server on another network: the CA that signed it, and a client certificate if asked.
    tls_ca_file: _Text = ""
    tls_cert_file: _Text = ""
    tls_key_file: _Text = ""
    namespace: _Token = "imagine"  # prefix of the streams, subjects and bucket (two bots, one server)
    # A job whose worker sends no step heartbeat for this long is delivered again.
    ack_wait_s: _PositiveNumber = 60.0
    # Tries of one job (worker crashes or hangs) before it fails with a refund.
    max_deliveries: _PositiveInt = 3
    # A worker not heard from for this long is gone: its job runs elsewhere.
    worker_timeout_s: _PositiveNumber = 10.0


@dataclass(frozen=True, slots=True, config=_SECTION)
class WorkerConfig:
    """This GPU worker process (``python bot.py worker``)."""

    name: _Token = "gpu-1"
    # Largest image (width x height) this worker accepts; 0 = any size the bot allows.
    max_pixels: _Whole = 0


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (an IPv6 host in brackets: ``[::1]:9464``) as the host and the port."""
    host, sep, port = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"not host:port: {address!r}")
    return host, int(port)


def _check_address(value: str) -> str:
    if value:  # "" turns the server off
        split_address(value)
    return value


_ListenAddress = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True),
    AfterValidator(_check_address),
    _Accepts('must be "host:port" (port 0-65535), e.g. "127.0.0.1:9464", or "" to turn the server off'),
]


@dataclass(frozen=True, slots=True, config=_SECTION)
class MetricsConfig:
    """The HTTP server for Prometheus (/metrics) and health checks (/healthz, /readyz)."""

    # Localhost only by default: the numbers are not secret, but nothing outside needs them.
    address: _ListenAddress = "127.0.0.1:9464"


@dataclass(frozen=True, slots=True, config=_SECTION)
class Config:
    discord: DiscordConfig = dataclasses.field(default_factory=DiscordConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    database: DatabaseConfig = dataclasses.field(default_factory=DatabaseConfig)
    generation: GenerationConfig = dataclasses.field(default_factory=GenerationConfig)
    moderation: ModerationConfig = dataclasses.field(default_factory=ModerationConfig)
    describe: DescribeConfig = dataclasses.field(default_factory=DescribeConfig)
    user_installs: UserInstallsConfig = dataclasses.field(default_factory=UserInstallsConfig)
    quota: QuotaConfig = dataclasses.field(default_factory=QuotaConfig)
    logging: LoggingConfig = dataclasses.field(default_factory=LoggingConfig)
    workers: WorkersConfig = dataclasses.field(default_factory=WorkersConfig)
    worker: WorkerConfig = dataclasses.field(default_factory=WorkerConfig)
    metrics: MetricsConfig = dataclasses.field(default_factory=MetricsConfig)


# Validates a whole document: a dict per section, missing sections and keys take the defaults.
_DOCUMENT: TypeAdapter[Config] = TypeAdapter(Config)


def _fields(cls: type[Any]) -> dict[str, FieldInfo]:
    # The resolved annotations and their metadata (dataclasses.fields would give the strings
    # that `from __future__ import annotations` leaves).
    fields: dict[str, FieldInfo] = cls.__pydantic_fields__
    return fields


def _section_fields(section: str) -> dict[str, FieldInfo]:
    cls = _fields(Config)[section].annotation
    assert isinstance(cls, type)  # every section is annotated with its dataclass
    return _fields(cls)


def _explain_one(error: ErrorDetails, raw: Mapping[str, Any]) -> str:
    loc = error["loc"]
    section = str(loc[0])
    if error["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        if len(loc) == 1:
            return f"unknown section [{section}]; allowed sections: {', '.join(_fields(Config))}"
        allowed = _section_fields(section)
        return f"unknown key [{section}] {loc[1]}; allowed keys in [{section}]: {', '.join(allowed)}"
    if len(loc) == 1:
        return f"[{section}] must be a table of keys, got {raw[section]!r}"
    key = str(loc[1])
    field = _section_fields(section)[key]
    # The value as written in the file: a list's error points at one item, and the choices
    # were lower-cased before they were compared.
    value = raw[section][key]
    where = f"[{section}] {key}"
    if get_origin(field.annotation) is Literal:
        return f"{where} = {value!r} is not allowed; use one of: {', '.join(get_args(field.annotation))}"
    accepts = next((m.text for m in field.metadata if isinstance(m, _Accepts)), None)
    if accepts is None:  # every field declares _Accepts (a test checks); pydantic's words as a fallback
        return f"{where}: {error['msg']}, got {value!r}"
    return f"{where} {accepts}, got {value!r}"


class ConfigProblems(ConfigError):
    """Bad keys, ``problems`` one line each (``python bot.py check`` prints them so)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def _explain(exc: ValidationError, raw: Mapping[str, Any]) -> ConfigProblems:
    # One message per key, in the order the models declare them: a value can fail several checks
    # at once (each bad item of a list, say), and the first says enough.
    messages: dict[tuple[str | int, ...], str] = {}
    for error in exc.errors():
        messages.setdefault(error["loc"][:2], _explain_one(error, raw))
    return ConfigProblems(list(messages.values()))


def parse_config(raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """Validate a parsed TOML document; ``DISCORD_TOKEN`` in ``env`` overrides the file's token."""
    try:
        config = _DOCUMENT.validate_python(dict(raw))
    except ValidationError as exc:
        raise _explain(exc, raw) from None
    token = (env or {}).get("DISCORD_TOKEN", "").strip()
    if token:
        config = dataclasses.replace(config, discord=dataclasses.replace(config.discord, token=token))
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
