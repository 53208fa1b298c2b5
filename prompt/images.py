"""A member's image, made ready for img2img (Remix) and /describe.

Everything here runs on bytes a stranger uploaded, so it checks before it decodes: the format
Pillow detects (never the filename), the size the header declares, and only then the pixels.
The result is an RGB image cropped and scaled to one of the nine trained resolutions, and
encoded as a metadata-free PNG whose digest names it.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import struct
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.errors import BadImage, InvalidOption
from core.text import t
from prompt.presets import RESOLUTIONS, RESOLUTIONS_BY_KEY, Resolution

log = logging.getLogger(__name__)

MAX_SIDE = 4096

# What members may send. Pillow reports a JPEG carrying a second picture (phones' depth maps,
# some cameras) as MPO; its first frame is the ordinary JPEG.
_ACCEPTED = frozenset({"PNG", "JPEG", "MPO", "WEBP"})
# Formats Pillow may try, only so the refusal can name what was sent. Pillow gets no chance to
# parse a header of any other format (EPS, PSD, FITS...): less of its code sees a stranger's bytes.
_NAMED_REFUSALS = {
    "GIF": t("a GIF"),
    "BMP": t("a BMP"),
    "TIFF": t("a TIFF"),
    "ICO": t("an icon (ICO)"),
    "AVIF": t("an AVIF"),
}
_WORKS = t("Only PNG, JPEG and WebP images work")

# Errors Pillow's decoders raise on damaged data besides OSError (its plugins use SyntaxError for
# "broken PNG", ValueError for over-long text chunks, struct.error/EOFError on short reads).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error)


def _candidate_formats() -> tuple[str, ...]:
    Image.init()  # registers every plugin; Image.open raises KeyError for a name it does not know
    return tuple(f for f in (*sorted(_ACCEPTED - {"MPO"}), *_NAMED_REFUSALS) if f in Image.OPEN)


def _damaged(error: BaseException) -> BadImage:
    if "truncated" in str(error).lower():
        return BadImage(t("This image file is cut short (truncated); upload it again."))
    return BadImage(
        t("This image file is damaged and can't be read; save it again as PNG or JPEG. {works}.", works=_WORKS)
    )


def _too_big(width: int, height: int, max_side: int) -> BadImage:
    return BadImage(
        t("This image is {width}x{height}; the limit is {side}x{side}.", width=width, height=height, side=max_side)
    )


def _open_header(data: bytes, max_side: int) -> ImageFile.ImageFile:
    """Image.open reads the header only; its own bomb check raises on twice MAX_IMAGE_PIXELS."""
    try:
        return Image.open(io.BytesIO(data), formats=_candidate_formats())
    except UnidentifiedImageError:
        raise BadImage(t("This file isn't an image I can read. {works}.", works=_WORKS)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # The warning only raises where a warnings filter turns it into an error; caught all the same.
        raise BadImage(t("This image is far too large to open; the limit is {side}x{side}.", side=max_side)) from None
    except _DECODE_ERRORS as error:
        raise _damaged(error) from None


def _check_header(image: ImageFile.ImageFile, max_side: int) -> None:
    if image.format not in _ACCEPTED:
        kind = _NAMED_REFUSALS.get(image.format or "") or t("a {format}", format=image.format)
        raise BadImage(t("{works}; this file is {kind}.", works=_WORKS, kind=kind))
    width, height = image.size
    if width > max_side or height > max_side:
        raise _too_big(width, height, max_side)
    # Pillow's pixel limit stays the second guard, read but never changed: MAX_IMAGE_PIXELS is a
    # process-wide setting other code relies on. Between one and two times the limit Image.open
    # only *warns*, and turning that warning into an error needs warnings.catch_warnings, which
    # swaps a process-global filter and is not thread-safe (this runs in worker threads). So the
    # same limit is checked here, on the header's size, before any pixel is decoded.
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise BadImage(
            t(
                "This image is {width}x{height}, {megapixels} megapixels; the limit is {limit} megapixels.",
                width=width,
                height=height,
                megapixels=f"{width * height / 1e6:.0f}",
                limit=f"{limit / 1e6:.0f}",
            )
        )


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited on white (the model has no alpha channel)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale PNG: convert("RGB") would clip every value above 255 to white.
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _upright(image: Image.Image) -> Image.Image:
    """Phones store the camera's rotation in EXIF and Discord shows the image turned, so do we."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # EXIF is optional metadata: a malformed block must not refuse the picture
        log.debug("ignoring unreadable EXIF orientation", exc_info=True)
        return image


# A progressive JPEG has about ten scans; libjpeg decodes every one, so a file of thousands of
# tiny scans costs minutes of CPU within the byte cap. Entropy-coded data escapes 0xFF, so this
# count of start-of-scan markers can only over-count.
MAX_JPEG_SCANS = 200
_START_OF_SCAN = b"\xff\xda"


def _check_scans(image: ImageFile.ImageFile, data: bytes) -> None:
    if image.format in ("JPEG", "MPO") and data.count(_START_OF_SCAN) > MAX_JPEG_SCANS:
        raise BadImage(t("This JPEG is built to be slow to open (thousands of scans); save it again and retry."))


def open_image(data: bytes, *, max_side: int = MAX_SIDE) -> Image.Image:
    """Decode a member's PNG, JPEG or WebP into a loaded RGB image (an animation's first frame).

    Raises BadImage, with a message for the member, for any other format, a header larger than
    max_side x max_side (refused before decoding), a truncated or damaged file.
    """
    with _open_header(data, max_side) as image:
        _check_header(image, max_side)
        _check_scans(image, data)
        try:
            image.seek(0)  # an animated PNG/WebP: the first frame (current after open; never another)
            image.load()
            return _to_rgb(_upright(image))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_big(*image.size, max_side) from None
        except _DECODE_ERRORS as error:
            raise _damaged(error) from None


def closest_resolution(width: int, height: int) -> Resolution:
    """The trained resolution whose aspect ratio is nearest, measured in log space.

    Log space makes 2:1 and 1:2 equally far from square, which plain ratio differences do not.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"an image size must be positive, not {width}x{height}")
    target = math.log(width / height)
    return min(RESOLUTIONS, key=lambda r: abs(math.log(r.width / r.height) - target))


def fit_image(image: Image.Image, resolution: Resolution) -> Image.Image:
    """Centre-crop to the resolution's aspect ratio, then resize (Lanczos) to exactly its size.

    Crop, not pad: img2img keeps the source's composition, so at low strength bars added around
    the image would come back as bars in the result. Losing a strip at the edges is the lesser harm.
    """
    target = resolution.width / resolution.height
    width, height = image.size
    if width / height > target:  # too wide: keep the middle columns
        kept = max(1, round(height * target))
        box = ((width - kept) // 2, 0, (width - kept) // 2 + kept, height)
    else:  # too tall: keep the middle rows
        kept = max(1, round(width / target))
        box = (0, (height - kept) // 2, width, (height - kept) // 2 + kept)
    # Cropping before resizing (rather than resize(box=...)) keeps the filter from reaching
    # into the cut-off strips: nothing outside the crop tints its edges.
    return image.crop(box).resize((resolution.width, resolution.height), Image.Resampling.LANCZOS)


@dataclass(frozen=True, slots=True)
class SourceImage:
    """A fitted source image as PNG bytes; `digest` (sha256 hex of `png`) names it in storage."""

    png: bytes
    width: int
    height: int
    digest: str

    @classmethod
    def of(cls, image: Image.Image) -> SourceImage:
        """Encode without metadata, deterministically: the same pixels give the same digest."""
        # A fresh image from the raw pixels carries no info (ICC profile, EXIF, text) into the PNG;
        # Pillow's PNG writer would otherwise copy an ICC profile from image.info.
        clean = Image.frombytes("RGB", image.size, image.convert("RGB").tobytes())
        buffer = io.BytesIO()
        # Fixed settings: zlib's output depends only on the input and the level.
        clean.save(buffer, format="PNG", optimize=False, compress_level=6)
        png = buffer.getvalue()
        return cls(png=png, width=clean.width, height=clean.height, digest=hashlib.sha256(png).hexdigest())


def _resolution_for(aspect: str) -> Resolution:
    try:
        return RESOLUTIONS_BY_KEY[aspect]
    except KeyError:
        choices = ", ".join(RESOLUTIONS_BY_KEY)
        raise InvalidOption(
            "aspect", t("Unknown aspect {aspect}; choose one of {choices}.", aspect=repr(aspect), choices=choices)
        ) from None


def source_image(data: bytes, *, aspect: str | None = None, max_side: int = MAX_SIDE) -> SourceImage:
    """A member's upload -> the source image for img2img: at `aspect` (a resolution key such as
    "832x1216") or, without one, at the trained resolution closest to the upload's shape."""
    resolution = _resolution_for(aspect) if aspect is not None else None  # a bad option fails before decoding
    image = open_image(data, max_side=max_side)
    if resolution is None:
        resolution = closest_resolution(image.width, image.height)
    return SourceImage.of(fit_image(image, resolution))
