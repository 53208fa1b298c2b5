"""A1111 "infotext" metadata: the `parameters` PNG text chunk the ecosystem reads back.

Format (ANIMAGINE.md)::

    <prompt>
    Negative prompt: <negative prompt>
    Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 123456, Size: 832x1216, Model hash: <10 hex>, Model: <name>

The negative line is left out when empty; a value holding ``,``, ``:`` or a newline is JSON-quoted.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from pathlib import Path

from PIL import Image, PngImagePlugin

from prompt.infotext import parse_parameters, read_parameters

PARAMETERS_KEY = "parameters"


def _quote(value: str) -> str:
    # Same rule as A1111's infotext_utils.quote: only quote when a parser would trip.
    if "," not in value and "\n" not in value and ":" not in value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _format_number(value: float) -> str:
    return f"{value:g}"


def build_infotext(
    *,
    prompt: str,
    negative: str,
    steps: int,
    sampler: str,
    cfg: float,
    seed: int,
    width: int,
    height: int,
    model_hash: str | None,
    model_name: str | None,
    extra: Iterable[tuple[str, str]] = (),
) -> str:
    fields: list[tuple[str, str]] = [
        ("Steps", str(steps)),
        ("Sampler", sampler),
        ("CFG scale", _format_number(cfg)),
        ("Seed", str(seed)),
        ("Size", f"{width}x{height}"),
    ]
    if model_hash:
        fields.append(("Model hash", model_hash))
    if model_name:
        fields.append(("Model", model_name))
    fields.extend(extra)
    lines = [prompt]
    if negative:
        lines.append(f"Negative prompt: {negative}")
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in fields))
    return "\n".join(lines)


def parse_infotext(text: str) -> tuple[str, str, dict[str, str]]:
    """Read an infotext back into (prompt, negative, fields); prompt.infotext is the one parser."""
    parameters = parse_parameters(text)
    return parameters.prompt, parameters.negative, dict(parameters.extra)


def encode_png(image: Image.Image, infotext: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    # A1111 writes a tEXt chunk (latin-1) when it can and an iTXt otherwise; readers accept both.
    try:
        infotext.encode("latin-1")
        info.add_text(PARAMETERS_KEY, infotext)
    except UnicodeEncodeError:
        info.add_itxt(PARAMETERS_KEY, infotext)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, optimize=False, compress_level=6)
    return buffer.getvalue()


def read_png_parameters(data: bytes) -> str | None:
    """The ``parameters`` text of a PNG (prompt.infotext reads it without decoding pixels)."""
    return read_parameters(data)


def file_short_hash(path: Path, chunk_size: int = 1 << 20) -> str:
    """A1111's model hash: the first 10 hex digits of the file's sha256."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()[:10]
