from __future__ import annotations

from pathlib import Path

from PIL import Image

from generation.metadata import build_infotext, encode_png, file_short_hash, parse_infotext, read_png_parameters


def _info(**changes: object) -> str:
    values: dict[str, object] = dict(
        prompt="1girl, smile",
        negative="lowres, (bad)",
        steps=28,
        sampler="Euler a",
        cfg=7.0,
        seed=123456,
        width=832,
        height=1216,
        model_hash="e3c47aedb0",
        model_name="animagine-xl-3.1",
    )
    values.update(changes)
    return build_infotext(**values)  # type: ignore[arg-type]


def test_exact_a1111_format() -> None:
    assert _info() == (
        "1girl, smile\n"
        "Negative prompt: lowres, (bad)\n"
        "Steps: 28, Sampler: Euler a, CFG scale: 7, Seed: 123456, Size: 832x1216, "
        "Model hash: e3c47aedb0, Model: animagine-xl-3.1"
    )


def test_negative_line_left_out_when_empty_and_fractional_cfg() -> None:
    text = _info(negative="", cfg=5.5)
    assert "Negative prompt" not in text
    assert "CFG scale: 5.5," in text


def test_values_with_commas_or_colons_are_json_quoted() -> None:
    text = _info(model_name="my, model: v2")
    assert text.endswith('Model: "my, model: v2"')
    assert parse_infotext(text)[2]["Model"] == "my, model: v2"


def test_missing_hash_is_left_out() -> None:
    assert "Model hash" not in _info(model_hash=None)


def test_png_round_trip_including_unicode() -> None:
    text = _info(prompt="1girl, 初音ミク, smile")
    png = encode_png(Image.new("RGB", (8, 8)), text)
    assert read_png_parameters(png) == text
    prompt, negative, fields = parse_infotext(read_png_parameters(png) or "")
    assert prompt == "1girl, 初音ミク, smile"
    assert negative == "lowres, (bad)"
    assert fields["Seed"] == "123456"
    assert fields["Size"] == "832x1216"


def test_png_uses_a_text_chunk_named_parameters() -> None:
    png = encode_png(Image.new("RGB", (8, 8)), _info())
    assert b"tEXtparameters\x00" in png


def test_file_short_hash(tmp_path: Path) -> None:
    file = tmp_path / "m.safetensors"
    file.write_bytes(b"abc")
    assert file_short_hash(file) == "ba7816bf8f"  # sha256("abc")
