"""A cheap look at a job's current latents: a fixed linear map from SDXL's four latent channels
to RGB (no VAE decode, no extra model), shrunk and JPEG-encoded for the progress message."""

from __future__ import annotations

import io

import torch
from PIL import Image

# Least-squares fit of SDXL latents to RGB, as published by ComfyUI (comfy/latent_formats.py, SDXL).
SDXL_LATENT_RGB = (
    (0.3920, 0.4054, 0.4549),
    (-0.2634, -0.0196, 0.0653),
    (0.0568, 0.1687, -0.0755),
    (-0.3112, -0.2359, -0.2076),
)
PREVIEW_MAX_SIDE = 256


def latent_preview(latents: torch.Tensor, *, max_side: int = PREVIEW_MAX_SIDE, quality: int = 70) -> bytes:
    """JPEG bytes of the first image in a (batch, 4, h, w) latent tensor."""
    first = latents[0].detach().to(device="cpu", dtype=torch.float32)
    if first.shape[0] != len(SDXL_LATENT_RGB):  # not an SDXL latent: show its first three channels
        rgb = first[:3]
    else:
        factors = torch.tensor(SDXL_LATENT_RGB, dtype=torch.float32)  # (4, 3)
        rgb = torch.einsum("chw,cr->rhw", first, factors)
    pixels = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    image = Image.fromarray(pixels, mode="RGB")
    # Latents are 1/8 of the image; enlarging (nearest) to a readable size costs nothing.
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
