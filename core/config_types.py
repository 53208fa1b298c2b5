"""The value types of core.config: what each kind of key accepts (the allowed choices, ranges
and patterns) and the words its error message uses. Split from core.config to keep each file
short; only core.config reads these (and re-exports the choices other modules use)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator, Field, StringConstraints

# The allowed choices are Literal types, so mypy checks them in code that builds a config too;
# the tuples are the same values for messages and for other modules.
DeviceName = Literal["auto", "cuda", "cpu"]
DtypeName = Literal["auto", "float16", "bfloat16", "float32"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]
Switch = Literal["auto", "on", "off"]  # "auto" = on with CUDA, off on the CPU
OnOff = Literal["on", "off"]
ClassifierName = Literal["none", "wd14"]
RatingName = Literal["general", "sensitive", "questionable", "explicit"]
BackendName = Literal["local", "nats"]

DEVICES: tuple[str, ...] = get_args(DeviceName)
DTYPES: tuple[str, ...] = get_args(DtypeName)
LOG_LEVELS: tuple[str, ...] = get_args(LogLevel)


@dataclasses.dataclass(frozen=True, slots=True)
class _Accepts:
    """What a key accepts, in the words of the error message (pydantic's own messages name no key).

    Annotation metadata that pydantic does not know is kept on the field and otherwise ignored;
    ``_explain`` reads it back, whatever check failed (wrong type or out of range).
    """

    text: str


def _lower(value: object) -> object:
    # Choices are matched case-insensitively ("CUDA" is what people type); non-strings fall
    # through to the Literal check, which refuses them.
    return value.lower() if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _unset_if_zero(value: object) -> object:
    # 0 and "" mean "not set" so the example file can show the key without a value; an id
    # copied from Discord as a quoted string is still an id.
    if value in (0, ""):
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


# strict=True everywhere: a TOML file has real types, so "5" for a count or true for 1 is a
# mistake to report rather than coerce (strict floats still take integers: 600 = 600.0).
_Text = Annotated[str, Field(strict=True), _Accepts("must be a string")]
_PositiveInt = Annotated[int, Field(strict=True, gt=0), _Accepts("must be a positive integer")]
_PositiveNumber = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False), _Accepts("must be a positive number")]
# 0 means "unlimited" or "off" for every count, so the range starts at 0.
Count = Annotated[int, Field(strict=True, ge=0), _Accepts("must be a whole number, 0 or more (0 = unlimited/off)")]
Seconds = Annotated[
    float, Field(strict=True, ge=0, allow_inf_nan=False), _Accepts("must be a number of seconds, 0 or more")
]
_Hour = Annotated[int, Field(strict=True, ge=0, le=23), _Accepts("must be an hour from 0 to 23")]
# Names are trimmed, and a blank one (a stray comma, an empty string) is refused.
Names = Annotated[
    tuple[Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1)], ...],
    _Accepts('must be a list of names, e.g. ["Patron", "Server Booster"]'),
]
_DiscordId = Annotated[
    Annotated[int, Field(strict=True, gt=0)] | None,
    BeforeValidator(_unset_if_zero),
    _Accepts("must be a Discord id (a positive integer)"),
]
_HttpUrl = Annotated[
    str, StringConstraints(strict=True, pattern=r"^https?://"), _Accepts("must start with http:// or https://")
]
_WebSocketUrl = Annotated[
    str, StringConstraints(strict=True, pattern=r"^wss?://"), _Accepts("must start with ws:// or wss://")
]
_DatabaseUrl = Annotated[
    str,
    StringConstraints(strict=True, pattern=r"^(sqlite\+aiosqlite|postgresql\+asyncpg)://"),
    _Accepts(
        "must be an async SQLAlchemy URL: sqlite+aiosqlite:///path/to/bot.db or postgresql+asyncpg://user@host/db"
    ),
]
_ModelSource = Annotated[
    str,
    StringConstraints(strict=True, pattern=r"\S"),
    _Accepts("must not be empty: a Hub repo id, a diffusers folder or a .safetensors file"),
]
_Device = Annotated[DeviceName, BeforeValidator(_lower)]
_Dtype = Annotated[DtypeName, BeforeValidator(_lower)]
_Switch = Annotated[Switch, BeforeValidator(_lower)]
_OnOff = Annotated[OnOff, BeforeValidator(_lower)]
_Classifier = Annotated[ClassifierName, BeforeValidator(_lower)]
_LogLevel = Annotated[LogLevel, BeforeValidator(_upper)]
_LogFormat = Annotated[LogFormat, BeforeValidator(_lower)]
_Backend = Annotated[BackendName, BeforeValidator(_lower)]
_NatsUrl = Annotated[
    str,
    StringConstraints(strict=True, pattern=r"^(nats|tls|ws|wss)://"),
    _Accepts("must be a NATS URL such as nats://127.0.0.1:4222 or tls://nats.example.org:4222"),
]
# A NATS subject token: the prefix of every stream, subject and bucket name the bot uses.
_Token = Annotated[
    str,
    StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_-]+$"),
    _Accepts("must be letters, digits, '-' or '_' only (it is used in NATS subject and stream names)"),
]
_Whole = Annotated[int, Field(strict=True, ge=0), _Accepts("must be a whole number, 0 or more")]
_Flag = Annotated[bool, Field(strict=True), _Accepts("must be true or false")]
