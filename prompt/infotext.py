"""Reading A1111 generation parameters ("infotext") out of an image a member gives.

Where the text lives: PNG keeps it in a `parameters` text chunk (tEXt, or iTXt when it is not
Latin-1; what generation.metadata.encode_png writes, as A1111 does); A1111 writes JPEG and WebP
with the text in the EXIF UserComment, piexif-style: an 8-byte charset prefix (`UNICODE\\0` then
UTF-16, `ASCII\\0\\0\\0`) or, from other tools, plain UTF-8.

The format (generation.metadata.build_infotext writes it)::

    <prompt, any number of lines>
    Negative prompt: <negative, any number of lines>
    Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 832x1216, Denoising strength: 0.6

A value holding a comma, colon or newline is JSON-quoted. Parsing follows A1111's own
parse_generation_parameters, so text from A1111, Forge and this bot reads the same.
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import struct
import zlib
from dataclasses import dataclass, field

from PIL import ExifTags, Image

log = logging.getLogger(__name__)

PARAMETERS_KEY = "parameters"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
# Pillow's own cap for one decompressed text chunk; a 1 KB zTXt may not inflate to gigabytes.
_MAX_TEXT_BYTES = 1 << 20
_USER_COMMENT = 0x9286

# key: value pairs on the last line; a value is either JSON-quoted or runs to the next comma.
# A1111's re_param_code, character for character.
_FIELD = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^(\d+)x(\d+)$")
_NEGATIVE = "Negative prompt:"


# A1111's own prompts are a few thousand characters at most; a longer text is either not an
# infotext or made to be slow to parse (the fields' pattern backtracks on long lines).
MAX_TEXT = 16 * 1024
MAX_SETTINGS_LINE = 4096

# --- reading the text out of the file ----------------------------------------------------------


def read_parameters(data: bytes) -> str | None:
    """The infotext an image carries, or None when it has none (or one too long to be real, see
    MAX_TEXT). Never raises, whatever `data` is."""
    try:
        text = _png_parameters(data) if data.startswith(_PNG_SIGNATURE) else _exif_parameters(data)
    except Exception:  # metadata is a courtesy: garbage in any shape means "no parameters"
        log.debug("unreadable image metadata", exc_info=True)
        return None
    if text and len(text) > MAX_TEXT:
        log.info("ignoring image parameters of %d characters", len(text))
        return None
    return text or None


def _png_parameters(data: bytes) -> str | None:
    """Walk the chunks without decoding pixels; text after the image data counts too."""
    pos = len(_PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length or kind == b"IEND":
            return None
        if kind in _TEXT_CHUNKS:
            keyword, _, rest = body.partition(b"\0")
            text = _png_text(kind, rest) if keyword == PARAMETERS_KEY.encode() else None
            if text:  # an empty chunk is no answer; a later one may hold the text
                return text
        pos += 12 + length  # length, type, body, CRC (not checked: a bad CRC still reads)
    return None


def _png_text(kind: bytes, rest: bytes) -> str | None:
    if kind == b"tEXt":
        return rest.decode("latin-1")
    if kind == b"zTXt":  # method byte, then zlib
        return _inflate(rest[1:]).decode("latin-1")
    # iTXt: compressed flag, method, language\0, translated keyword\0, UTF-8 text
    compressed = rest[:1] == b"\x01"
    _language, _, rest = rest[2:].partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    return (_inflate(text) if compressed else text).decode("utf-8", errors="replace")


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, _MAX_TEXT_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError("text chunk inflates past the cap")
    return out


def _exif_parameters(data: bytes) -> str | None:
    # Only the header and EXIF are read; the pixels are never decoded.
    with Image.open(io.BytesIO(data), formats=("JPEG", "WEBP")) as image:
        exif_ifd = image.getexif().get_ifd(ExifTags.IFD.Exif)
    raw = exif_ifd.get(_USER_COMMENT)
    if isinstance(raw, str):
        return raw.rstrip("\0")
    return decode_user_comment(raw) if isinstance(raw, bytes) else None


def decode_user_comment(raw: bytes) -> str:
    """EXIF UserComment bytes -> text: the 8-byte charset prefix decides, UTF-8 without one."""
    prefix, body = raw[:8], raw[8:]
    if prefix == b"UNICODE\0":
        text = _utf16(body)
    elif prefix == b"ASCII\0\0\0":
        text = body.decode("utf-8", errors="replace")  # "ASCII" writers often put UTF-8 there
    elif prefix == b"JIS\0\0\0\0\0":
        text = body.decode("shift_jis", errors="replace")
    elif prefix == b"\0" * 8:
        text = body.decode("utf-8", errors="replace")
    else:
        text = raw.decode("utf-8", errors="replace")  # no prefix at all, as A1111 falls back to
    return text.rstrip("\0")


def _utf16(body: bytes) -> str:
    """piexif writes UTF-16 big-endian, some tools little-endian, with no BOM either way.

    Infotext is mostly ASCII, so the zero high bytes show the byte order: even positions in
    big-endian, odd in little-endian.
    """
    if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return body.decode("utf-16", errors="replace")
    body = body[: len(body) // 2 * 2]
    little = body[1::2].count(0) > body[0::2].count(0)
    return body.decode("utf-16-le" if little else "utf-16-be", errors="replace")


# --- parsing the text ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parameters:
    """One image's generation parameters.

    The typed fields are None when absent or unreadable. `extra` holds every `Key: value` of
    the last line as written (quotes removed), the typed ones included, so nothing is lost.
    """

    prompt: str
    negative: str
    steps: int | None = None
    cfg: float | None = None
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    sampler: str | None = None
    denoising_strength: float | None = None
    extra: dict[str, str] = field(default_factory=dict, hash=False)


def parse_parameters(text: str) -> Parameters:
    """Split an infotext into prompt, negative and settings, the way A1111 reads it."""
    *lines, last = text[:MAX_TEXT].replace("\r\n", "\n").strip().split("\n")
    # The fields' pattern backtracks on a long line without a colon: a settings line is short.
    last = last[:MAX_SETTINGS_LINE]
    # A1111's rule: a last line with fewer than three fields is prompt text, not settings.
    if len(_FIELD.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative = _split_prompt(lines)
    extra = {key.strip(): _unquote(value) for key, value in _FIELD.findall(last)}
    width, height = _size(extra.get("Size"))
    return Parameters(
        prompt=prompt,
        negative=negative,
        steps=_int(extra.get("Steps")),
        cfg=_float(extra.get("CFG scale")),
        seed=_int(extra.get("Seed")),
        width=width,
        height=height,
        sampler=extra.get("Sampler") or None,
        denoising_strength=_float(extra.get("Denoising strength")),
        extra=extra,
    )


def _split_prompt(lines: list[str]) -> tuple[str, str]:
    prompt: list[str] = []
    negative: list[str] = []
    target = prompt
    for raw in lines:
        line = raw.strip()
        if line.startswith(_NEGATIVE) and target is prompt:
            target = negative
            line = line[len(_NEGATIVE) :].strip()
        target.append(line)
    return "\n".join(prompt), "\n".join(negative)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return decoded if isinstance(decoded, str) else value
    return value


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None  # "nan" is no setting


def _size(value: str | None) -> tuple[int | None, int | None]:
    match = _SIZE.match(value.strip()) if value else None
    if match is None:
        return None, None
    return int(match.group(1)), int(match.group(2))
