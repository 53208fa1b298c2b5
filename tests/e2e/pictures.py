"""Reading the PNGs a job's message carries: the images, their A1111 fields, their size."""

from __future__ import annotations

import io

from PIL import Image

from generation.metadata import parse_infotext, read_png_parameters
from tests.fakediscord.state import Interaction


def pngs(ix: Interaction) -> list[bytes]:
    if ix.original is None:
        return []
    return [a.data for a in ix.original.attachments if a.filename.endswith(".png")]


def fields(png: bytes) -> dict[str, str]:
    return parse_infotext(read_png_parameters(png) or "")[2]


def size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size
