"""A tiny SDXL pipeline exported to one original-layout file loads back with diffusers'
real ``StableDiffusionXLPipeline.from_single_file``, offline, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLPipeline
from safetensors import safe_open

from tests.support.single_file import export_single_file
from tests.support.tiny_sdxl import build_tiny_sdxl

COMPONENTS = ("unet", "vae", "text_encoder", "text_encoder_2")


def _image(pipe: StableDiffusionXLPipeline) -> np.ndarray:
    return pipe(
        "1girl, blue hair, smile",
        negative_prompt="lowres",
        height=64,
        width=64,
        num_inference_steps=2,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(7),
        output_type="np",
    ).images[0]


@pytest.mark.parametrize("attention", [True, False], ids=["attention", "no-attention"])
def test_single_file_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attention: bool) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pipe = build_tiny_sdxl(tmp_path / "build", attention=attention)
    folder = tmp_path / "diffusers"
    pipe.save_pretrained(folder)
    file = export_single_file(pipe, tmp_path / "tiny-sdxl.safetensors")

    with safe_open(str(file), "pt") as f:
        keys = set(f.keys())
    assert "conditioner.embedders.1.model.transformer.resblocks.9.mlp.c_proj.bias" in keys  # SDXL probe
    assert "conditioner.embedders.1.model.text_projection" in keys
    assert not any(k.startswith(("unet.", "vae.", "text_encoder")) for k in keys)

    loaded = StableDiffusionXLPipeline.from_single_file(str(file), config=str(folder), local_files_only=True)

    for name in COMPONENTS:
        want = getattr(pipe, name).state_dict()
        got = getattr(loaded, name).state_dict()
        assert set(got) == set(want), name
        different = [k for k in want if not torch.equal(want[k], got[k])]
        assert not different, f"{name}: {different[:5]}"

    np.testing.assert_array_equal(_image(loaded), _image(pipe))
