from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image, ImageFile

from core.errors import BadImage, InvalidOption
from prompt.images import SourceImage, closest_resolution, fit_image, open_image, source_image
from prompt.presets import RESOLUTIONS, RESOLUTIONS_BY_KEY


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient(width: int = 96, height: int = 64) -> Image.Image:
    return Image.linear_gradient("L").resize((width, height)).convert("RGB")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height (1-bit grey) and whose pixel data is a stub."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_accepted_formats_open_as_loaded_rgb(fmt: str) -> None:
    image = open_image(encode(gradient(), fmt))
    assert image.mode == "RGB" and image.size == (96, 64)
    left, right = image.getpixel((0, 0)), image.getpixel((95, 63))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[0] < 40 and right[0] > 200  # the gradient survived, not a blank image


def test_jpeg_with_a_second_picture_reads_as_its_first() -> None:
    red, blue = Image.new("RGB", (40, 30), "red"), Image.new("RGB", (40, 30), "blue")
    image = open_image(encode(red, "MPO", save_all=True, append_images=[blue]))
    assert image.getpixel((20, 15)) == pytest.approx((254, 0, 0), abs=3)


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animation_gives_its_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (64, 32), colour) for colour in ("red", "blue", "green")]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], lossless=True)
    with Image.open(io.BytesIO(data)) as animation:
        assert getattr(animation, "n_frames", 1) == 3
    image = open_image(data)
    assert image.size == (64, 32) and image.getpixel((10, 10)) == (255, 0, 0)


@pytest.mark.parametrize(("fmt", "named"), [("GIF", "a GIF"), ("BMP", "a BMP"), ("TIFF", "a TIFF")])
def test_other_image_formats_are_refused_by_name(fmt: str, named: str) -> None:
    with pytest.raises(BadImage) as caught:
        open_image(encode(gradient(), fmt))
    assert caught.value.message == f"Only PNG, JPEG and WebP images work; this file is {named}."


def test_a_png_named_like_a_gif_is_judged_by_its_bytes() -> None:
    assert open_image(encode(gradient(), "PNG")).size == (96, 64)


@pytest.mark.parametrize("data", [b"hello, world\n" * 20, b"", b"\x89PNG\r\n\x1a\n"])
def test_not_an_image_is_refused(data: bytes) -> None:
    with pytest.raises(BadImage, match="PNG, JPEG and WebP"):
        open_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_is_refused(fmt: str) -> None:
    data = encode(gradient(300, 300), fmt)
    with pytest.raises(BadImage) as caught:
        open_image(data[: len(data) // 2])
    assert caught.value.message == "This image file is cut short (truncated); upload it again."


def test_damaged_png_is_refused() -> None:
    data = bytearray(encode(gradient(), "PNG"))
    start = data.index(b"IDAT") + 8
    data[start : start + 20] = b"\xff" * 20  # inside the image data: the zlib stream breaks
    with pytest.raises(BadImage) as caught:
        open_image(bytes(data))
    assert caught.value.message.startswith("This image file is damaged and can't be read")


# --- size limits --------------------------------------------------------------------------------


def test_one_pixel_over_the_side_limit_is_refused() -> None:
    with pytest.raises(BadImage) as caught:
        open_image(encode(Image.new("RGB", (4097, 10)), "PNG"))
    assert caught.value.message == "This image is 4097x10; the limit is 4096x4096."


def test_at_the_side_limit_is_accepted() -> None:
    assert open_image(encode(Image.new("RGB", (4096, 8)), "PNG")).size == (4096, 8)


def test_side_limit_is_read_from_the_header(no_decoding: None) -> None:
    with pytest.raises(BadImage, match="8000x6000; the limit is 4096x4096"):
        open_image(png_header_only(8000, 6000))


def test_decompression_bomb_is_refused_quickly_without_decoding(no_decoding: None) -> None:
    data = png_header_only(20000, 20000)
    assert len(data) < 200
    started = time.perf_counter()
    with pytest.raises(BadImage, match="far too large to open; the limit is 4096x4096"):
        open_image(data)
    assert time.perf_counter() - started < 0.5


def test_pillows_error_threshold_still_guards_a_raised_side_limit(no_decoding: None) -> None:
    # 400 megapixels is over twice Pillow's limit: Image.open itself raises DecompressionBombError.
    with pytest.raises(BadImage, match="far too large"):
        open_image(png_header_only(20000, 20000), max_side=30000)


def test_pillows_warning_threshold_is_enforced_too(no_decoding: None) -> None:
    # 144 megapixels: between Pillow's limit and twice it, where Image.open only warns.
    limit = Image.MAX_IMAGE_PIXELS
    with pytest.warns(Image.DecompressionBombWarning), pytest.raises(BadImage, match="megapixels"):
        open_image(png_header_only(12000, 12000), max_side=30000)
    assert limit == Image.MAX_IMAGE_PIXELS  # read, never changed


# --- colour -------------------------------------------------------------------------------------


def test_transparency_is_composited_on_white() -> None:
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 255), (0, 0, 10, 20))
    rgba.paste((0, 0, 255, 128), (10, 0, 20, 20))
    image = open_image(encode(rgba, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((2, 2)) == (255, 0, 0)
    assert image.getpixel((15, 2)) == pytest.approx((127, 127, 255), abs=2)


def test_palette_transparency_is_composited_on_white() -> None:
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(1, (0, 0, 4, 8))
    image = open_image(encode(palette, "PNG", transparency=0))
    assert image.getpixel((1, 1)) == (255, 0, 0) and image.getpixel((6, 1)) == (255, 255, 255)


def test_sixteen_bit_grey_keeps_its_tones() -> None:
    image = open_image(encode(Image.new("I;16", (4, 4), 32768), "PNG"))
    assert image.getpixel((0, 0)) == (128, 128, 128)


def test_exif_rotation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    image = open_image(encode(gradient(96, 64), "JPEG", exif=exif))
    assert image.size == (64, 96)


# --- resolution and fit -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((512, 512), "1024x1024"),
        ((4000, 3000), "1152x896"),  # 4:3
        ((3000, 4000), "896x1152"),
        ((1920, 1080), "1344x768"),  # 16:9
        ((1080, 1920), "768x1344"),
        ((832, 1216), "832x1216"),  # a trained size maps to itself
        ((3000, 1000), "1536x640"),  # wider than any: the widest
        ((10, 4000), "640x1536"),
        ((1300, 1000), "1152x896"),  # 1.30: nearer 9:7 (1.29) than 19:13 (1.46)
        ((1400, 1000), "1216x832"),  # 1.40: log-nearer 19:13 than 9:7
    ],
)
def test_closest_resolution(size: tuple[int, int], expected: str) -> None:
    assert closest_resolution(*size).key == expected


def test_closest_resolution_is_symmetric_in_log_space() -> None:
    for resolution in RESOLUTIONS:
        flipped = closest_resolution(resolution.height, resolution.width)
        assert (flipped.width, flipped.height) == (resolution.height, resolution.width)


def test_closest_resolution_refuses_an_empty_size() -> None:
    with pytest.raises(ValueError):
        closest_resolution(0, 10)


def test_fit_gives_the_exact_size() -> None:
    for resolution in RESOLUTIONS:
        assert fit_image(gradient(333, 777), resolution).size == (resolution.width, resolution.height)


def test_fit_crops_rather_than_pads() -> None:
    # A wide image with red side bands and a green centre, fitted to square: the bands go,
    # and no border colour appears that the source did not have.
    wide = Image.new("RGB", (300, 100), "green")
    wide.paste((255, 0, 0), (0, 0, 100, 100))
    wide.paste((255, 0, 0), (200, 0, 300, 100))
    fitted = fit_image(wide, RESOLUTIONS_BY_KEY["1024x1024"])
    colours = {colour for _, colour in fitted.getcolors(maxcolors=1 << 20) or []}
    assert colours == {(0, 128, 0)}
    assert fitted.getpixel((0, 512)) == (0, 128, 0) and fitted.getpixel((512, 0)) == (0, 128, 0)


# --- the source image ---------------------------------------------------------------------------


def test_source_image_is_a_fitted_metadata_free_png() -> None:
    exif = Image.Exif()
    exif[0x010E] = "a description"
    source = source_image(encode(gradient(1600, 900), "JPEG", exif=exif))
    assert (source.width, source.height) == (1344, 768)
    with Image.open(io.BytesIO(source.png)) as image:
        assert image.format == "PNG" and image.size == (1344, 768) and image.mode == "RGB"
        assert not image.info  # no EXIF, ICC, text or dpi
    assert len(source.digest) == 64


def test_source_image_digest_is_deterministic() -> None:
    data = encode(gradient(700, 500), "WEBP")
    first, second = source_image(data), source_image(data)
    assert first == second and first.digest == second.digest
    assert first.digest != source_image(encode(gradient(701, 500), "WEBP")).digest


def test_source_image_of_ignores_the_images_metadata() -> None:
    plain = gradient(64, 64)
    tagged = plain.copy()
    tagged.info["icc_profile"] = b"not really a profile"
    assert SourceImage.of(plain).digest == SourceImage.of(tagged).digest


def test_source_image_at_a_chosen_aspect() -> None:
    source = source_image(encode(gradient(500, 500), "PNG"), aspect="832x1216")
    assert (source.width, source.height) == (832, 1216)


def test_unknown_aspect_is_an_invalid_option(no_decoding: None) -> None:
    with pytest.raises(InvalidOption) as caught:
        source_image(b"not even looked at", aspect="1000x1000")
    assert caught.value.option == "aspect" and "832x1216" in caught.value.message


def test_a_jpeg_of_thousands_of_scans_is_refused_before_decoding() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (10, 20, 30)).save(buffer, format="JPEG", progressive=True)
    data = buffer.getvalue()
    end = data.rindex(b"\xff\xd9")
    bomb = data[:end] + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" * 500 + data[end:]
    with pytest.raises(BadImage, match="scans"):
        open_image(bomb)
    assert open_image(data).size == (64, 64)  # an ordinary progressive JPEG is fine
