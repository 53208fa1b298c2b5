from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import ExifTags, Image, PngImagePlugin

from generation.metadata import build_infotext, encode_png, parse_infotext
from prompt.infotext import Parameters, decode_user_comment, parse_parameters, read_parameters

INFOTEXT = build_infotext(
    prompt="1girl, hatsune miku, (smile:1.2),\nBREAK, night sky, masterpiece",
    negative="nsfw, lowres, (bad), text",
    steps=28,
    sampler="Euler a",
    cfg=7.5,
    seed=1234567890,
    width=832,
    height=1216,
    model_hash="e3c47aedb0",
    model_name="animagine-xl-3.1",
    extra=[("Denoising strength", "0.6"), ("Source", "photo.png, cropped"), ("Note", 'say "hi"\nthere')],
)


def small_image() -> Image.Image:
    return Image.new("RGB", (8, 8), "white")


def with_exif_comment(comment: bytes, fmt: str) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[0x9286] = comment
    buffer = io.BytesIO()
    small_image().save(buffer, format=fmt, exif=exif)
    return buffer.getvalue()


# --- parsing ------------------------------------------------------------------------------------


def test_round_trip_with_what_the_bot_writes() -> None:
    parameters = parse_parameters(INFOTEXT)
    assert parameters.prompt == "1girl, hatsune miku, (smile:1.2),\nBREAK, night sky, masterpiece"
    assert parameters.negative == "nsfw, lowres, (bad), text"
    assert (parameters.steps, parameters.cfg, parameters.seed) == (28, 7.5, 1234567890)
    assert (parameters.width, parameters.height) == (832, 1216)
    assert parameters.sampler == "Euler a"
    assert parameters.denoising_strength == 0.6
    assert parameters.extra["Model hash"] == "e3c47aedb0"
    assert parameters.extra["Model"] == "animagine-xl-3.1"
    assert parameters.extra["Source"] == "photo.png, cropped"  # a quoted value keeps its comma
    assert parameters.extra["Note"] == 'say "hi"\nthere'
    assert parameters.extra["Steps"] == "28" and parameters.extra["Size"] == "832x1216"  # raw, all of it


def test_agrees_with_the_generation_side_parser() -> None:
    prompt, negative, fields = parse_infotext(INFOTEXT)
    parameters = parse_parameters(INFOTEXT)
    assert (parameters.prompt, parameters.negative, parameters.extra) == (prompt, negative, fields)


_LINE = st.text(alphabet=st.sampled_from("abcxyz _()[]:,.1-"), min_size=1, max_size=30).map(str.strip).filter(bool)


@given(
    prompt=st.lists(_LINE, min_size=1, max_size=3).map("\n".join),
    negative=st.lists(_LINE, max_size=2).map("\n".join),
    steps=st.integers(1, 150),
    cfg=st.floats(1, 30).map(lambda c: round(c, 1)),
    seed=st.integers(0, 2**32 - 1),
    strength=st.sampled_from(["0.3", "0.55", "1"]),
)
def test_round_trip_property(prompt: str, negative: str, steps: int, cfg: float, seed: int, strength: str) -> None:
    text = build_infotext(
        prompt=prompt,
        negative=negative,
        steps=steps,
        sampler="Euler a",
        cfg=cfg,
        seed=seed,
        width=1024,
        height=1024,
        model_hash=None,
        model_name=None,
        extra=[("Denoising strength", strength)],
    )
    parameters = parse_parameters(text)
    assert (parameters.prompt, parameters.negative) == (prompt, negative)
    assert (parameters.steps, parameters.cfg, parameters.seed) == (steps, cfg, seed)
    assert parameters.denoising_strength == float(strength)


def test_a1111_text_with_crlf_and_a_negative_over_several_lines() -> None:
    text = (
        "masterpiece, 1girl\r\nsolo\r\nNegative prompt: lowres,\r\nbad hands\r\n"
        "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5, Seed: 7, Size: 1024x1024, "
        'Lora hashes: "a: 1, b: 2", Version: v1.10.1'
    )
    parameters = parse_parameters(text)
    assert parameters.prompt == "masterpiece, 1girl\nsolo"
    assert parameters.negative == "lowres,\nbad hands"
    assert parameters.sampler == "DPM++ 2M" and parameters.cfg == 5.0
    assert parameters.extra["Lora hashes"] == "a: 1, b: 2"
    assert parameters.extra["Schedule type"] == "Karras"
    assert parameters.denoising_strength is None


def test_a_prompt_alone_is_all_prompt() -> None:
    parameters = parse_parameters("1girl, solo, (night:1.1)")
    assert parameters == Parameters(prompt="1girl, solo, (night:1.1)", negative="")


def test_a_short_last_line_is_prompt_text_not_settings() -> None:
    # A1111's rule: fewer than three fields on the last line means it is part of the prompt.
    parameters = parse_parameters("1girl\nscore: 9, rating: safe")
    assert parameters.prompt == "1girl\nscore: 9, rating: safe" and parameters.extra == {}


def test_unreadable_values_are_none_but_kept_raw() -> None:
    parameters = parse_parameters("x\nSteps: many, CFG scale: nan, Seed: -, Size: big, Denoising strength: lots")
    assert parameters.steps is None and parameters.cfg is None and parameters.seed is None
    assert parameters.width is None and parameters.height is None and parameters.denoising_strength is None
    assert parameters.extra["Steps"] == "many" and parameters.extra["Size"] == "big"


def test_parameters_are_hashable() -> None:
    assert hash(parse_parameters(INFOTEXT)) == hash(parse_parameters(INFOTEXT))


# --- reading from files -------------------------------------------------------------------------


def test_reads_the_png_chunk_the_bot_writes() -> None:
    assert read_parameters(encode_png(small_image(), INFOTEXT)) == INFOTEXT


def test_reads_a_non_latin_png_chunk_written_as_itxt() -> None:
    text = INFOTEXT.replace("hatsune miku", "初音ミク")
    assert read_parameters(encode_png(small_image(), text)) == text


@pytest.mark.parametrize("kind", ["iTXt", "zTXt"])
def test_reads_a_compressed_chunk(kind: str) -> None:
    info = PngImagePlugin.PngInfo()
    if kind == "iTXt":
        info.add_itxt("parameters", INFOTEXT, zip=True)
    else:
        info.add_text("parameters", INFOTEXT, zip=True)
    buffer = io.BytesIO()
    small_image().save(buffer, format="PNG", pnginfo=info)
    assert kind.encode() in buffer.getvalue()
    assert read_parameters(buffer.getvalue()) == INFOTEXT


def test_reads_text_after_the_image_data() -> None:
    buffer = io.BytesIO()
    small_image().save(buffer, format="PNG")
    plain = buffer.getvalue()
    body = b"parameters\0" + INFOTEXT.encode("latin-1")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    iend = plain.rindex(b"IEND") - 4
    assert read_parameters(plain[:iend] + chunk + plain[iend:]) == INFOTEXT


def test_a_text_bomb_is_ignored() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a" * (8 << 20), zip=True)
    buffer = io.BytesIO()
    small_image().save(buffer, format="PNG", pnginfo=info)
    assert read_parameters(buffer.getvalue()) is None


def test_other_png_text_is_not_parameters() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "hello")
    buffer = io.BytesIO()
    small_image().save(buffer, format="PNG", pnginfo=info)
    assert read_parameters(buffer.getvalue()) is None
    assert read_parameters(encode_png(small_image(), "")) is None


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-16-le"])
def test_reads_a1111s_exif_user_comment(fmt: str, encoding: str) -> None:
    text = INFOTEXT.replace("hatsune miku", "初音ミク")
    data = with_exif_comment(b"UNICODE\0" + text.encode(encoding), fmt)
    assert read_parameters(data) == text
    assert parse_parameters(read_parameters(data) or "").seed == 1234567890


def test_reads_a_plain_utf8_user_comment() -> None:
    assert read_parameters(with_exif_comment(INFOTEXT.encode(), "JPEG")) == INFOTEXT


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"ASCII\0\0\0hello\0", "hello"),
        (b"\0" * 8 + b"plain", "plain"),
        (b"UNICODE\0\xff\xfeh\0i\0", "hi"),
        (b"UNICODE\0\0h\0i\0", "hi"),  # odd length: the stray byte is dropped
        (b"no prefix at all", "no prefix at all"),
    ],
)
def test_decode_user_comment(raw: bytes, text: str) -> None:
    assert decode_user_comment(raw) == text


@pytest.mark.filterwarnings("ignore:Corrupt EXIF")
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"garbage" * 100,
        b"\x89PNG\r\n\x1a\n",
        b"\x89PNG\r\n\x1a\n\xff\xff\xff\xff",  # a chunk longer than the file
        b"\x89PNG\r\n\x1a\n\0\0\0\x05iTXtparam",
        b"\xff\xd8\xff\xe1\x00\x10Exif\0\0MM\0*\0\0\0\x08",  # a JPEG that stops in its EXIF
    ],
)
def test_garbage_gives_none(data: bytes) -> None:
    assert read_parameters(data) is None


def test_an_image_without_metadata_gives_none() -> None:
    for fmt in ("JPEG", "WEBP", "GIF"):
        buffer = io.BytesIO()
        small_image().save(buffer, format=fmt)
        assert read_parameters(buffer.getvalue()) is None


def test_a_huge_or_hostile_text_is_ignored_quickly() -> None:
    started = time.perf_counter()
    assert parse_parameters("a" * 900_000).prompt  # one long line, no colon: bounded work
    assert time.perf_counter() - started < 5
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a" * 100_000)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG", pnginfo=info)
    assert read_parameters(buffer.getvalue()) is None
