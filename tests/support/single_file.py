"""Export a diffusers SDXL pipeline to one original-format (Stability / A1111 "LDM") file.

Real SDXL fine-tunes (e.g. ``animagine-xl-3.1.safetensors``) ship as a single safetensors
file in the original key layout; tests write such a file from a tiny random pipeline so that
the bot's loader can run ``StableDiffusionXLPipeline.from_single_file`` offline.

The key maps are adapted from diffusers' ``scripts/convert_diffusers_to_original_sdxl.py``
(Copyright The HuggingFace Team, Apache License 2.0). That script hard-codes the block counts
of the full-size SDXL UNet/VAE; here the same maps are derived from the model configs so that
the tiny pipelines (two blocks, with or without attention) convert too. The resulting layout
is the inverse of ``convert_ldm_unet_checkpoint``, ``convert_ldm_vae_checkpoint``,
``convert_ldm_clip_checkpoint`` and ``convert_open_clip_checkpoint`` in
``diffusers/loaders/single_file_utils.py``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL, StableDiffusionXLPipeline, UNet2DConditionModel
from safetensors.torch import save_file
from torch import nn

UNET_PREFIX = "model.diffusion_model."
VAE_PREFIX = "first_stage_model."
CLIP_L_PREFIX = "conditioner.embedders.0.transformer."
OPEN_CLIP_PREFIX = "conditioner.embedders.1.model."

# ---------------------------------------------------------------- UNet
# (stable-diffusion, HF Diffusers)
_UNET_MAP = [
    ("time_embed.0.", "time_embedding.linear_1."),
    ("time_embed.2.", "time_embedding.linear_2."),
    ("input_blocks.0.0.", "conv_in."),
    ("out.0.", "conv_norm_out."),
    ("out.2.", "conv_out."),
    # SDXL's text_time embedding
    ("label_emb.0.0.", "add_embedding.linear_1."),
    ("label_emb.0.2.", "add_embedding.linear_2."),
]

_UNET_RESNET_MAP = [
    ("in_layers.0", "norm1"),
    ("in_layers.2", "conv1"),
    ("out_layers.0", "norm2"),
    ("out_layers.3", "conv2"),
    ("emb_layers.1", "time_emb_proj"),
    ("skip_connection", "conv_shortcut"),
]


def _unet_layer_map(unet: UNet2DConditionModel) -> list[tuple[str, str]]:
    """(sd prefix, hf prefix) pairs for the blocks, for any number of blocks/layers."""
    n_blocks = len(unet.down_blocks)
    per = unet.config.layers_per_block
    if not isinstance(per, int):
        raise TypeError("per-block layers_per_block is not supported by the LDM layout")
    pairs: list[tuple[str, str]] = []
    for i in range(n_blocks):
        for j in range(per):
            pairs.append((f"input_blocks.{i * (per + 1) + j + 1}.0.", f"down_blocks.{i}.resnets.{j}."))
            pairs.append((f"input_blocks.{i * (per + 1) + j + 1}.1.", f"down_blocks.{i}.attentions.{j}."))
        pairs.append((f"input_blocks.{(i + 1) * (per + 1)}.0.op.", f"down_blocks.{i}.downsamplers.0.conv."))

        up_has_attention = hasattr(unet.up_blocks[i], "attentions")
        for j in range(per + 1):
            pairs.append((f"output_blocks.{i * (per + 1) + j}.0.", f"up_blocks.{i}.resnets.{j}."))
            pairs.append((f"output_blocks.{i * (per + 1) + j}.1.", f"up_blocks.{i}.attentions.{j}."))
        # The upsampler sits after the attention of the last layer, if there is one.
        slot = 2 if up_has_attention else 1
        pairs.append((f"output_blocks.{i * (per + 1) + per}.{slot}.", f"up_blocks.{i}.upsamplers.0."))

    pairs.append(("middle_block.1.", "mid_block.attentions.0."))
    for j in range(2):
        pairs.append((f"middle_block.{2 * j}.", f"mid_block.resnets.{j}."))
    return pairs


def _replace_prefix(key: str, pairs: list[tuple[str, str]]) -> str:
    for sd, hf in pairs:
        if key.startswith(hf):
            return sd + key[len(hf) :]
    return key


def convert_unet_state_dict(unet: UNet2DConditionModel) -> dict[str, torch.Tensor]:
    layer_map = _unet_layer_map(unet)
    out = {}
    for key, value in unet.state_dict().items():
        new = _replace_prefix(key, _UNET_MAP)
        if new == key:
            if ".resnets." in key:
                for sd, hf in _UNET_RESNET_MAP:
                    new = new.replace(f".{hf}.", f".{sd}.")
            new = _replace_prefix(new, layer_map)
            if new == key or new.startswith(("down_blocks.", "up_blocks.", "mid_block.")):
                raise KeyError(f"no LDM name for UNet key {key!r}")
        out[new] = value
    return out


# ---------------------------------------------------------------- VAE
def _vae_map(vae: AutoencoderKL) -> list[tuple[str, str]]:
    n = len(vae.config.block_out_channels)
    pairs = [
        ("encoder.norm_out.", "encoder.conv_norm_out."),
        ("decoder.norm_out.", "decoder.conv_norm_out."),
    ]
    for i in range(n):
        pairs.append((f"encoder.down.{i}.block.", f"encoder.down_blocks.{i}.resnets."))
        pairs.append((f"encoder.down.{i}.downsample.", f"encoder.down_blocks.{i}.downsamplers.0."))
        # Decoder up blocks are numbered in reverse in the original layout.
        pairs.append((f"decoder.up.{n - 1 - i}.block.", f"decoder.up_blocks.{i}.resnets."))
        pairs.append((f"decoder.up.{n - 1 - i}.upsample.", f"decoder.up_blocks.{i}.upsamplers.0."))
    for part in ("encoder", "decoder"):
        for j in range(2):
            pairs.append((f"{part}.mid.block_{j + 1}.", f"{part}.mid_block.resnets.{j}."))
        pairs.append((f"{part}.mid.attn_1.", f"{part}.mid_block.attentions.0."))
    return pairs


_VAE_ATTN_MAP = [
    ("norm.", "group_norm."),
    ("q.", "to_q."),
    ("k.", "to_k."),
    ("v.", "to_v."),
    ("proj_out.", "to_out.0."),
]


def convert_vae_state_dict(vae: AutoencoderKL) -> dict[str, torch.Tensor]:
    pairs = _vae_map(vae)
    out = {}
    for key, value in vae.state_dict().items():
        new = _replace_prefix(key, pairs).replace("conv_shortcut", "nin_shortcut")
        if ".mid.attn_1." in new:
            head, _, tail = new.rpartition(".mid.attn_1.")
            tail = _replace_prefix(tail, _VAE_ATTN_MAP)
            new = f"{head}.mid.attn_1.{tail}"
            if value.ndim == 2:  # linear -> 1x1 conv, as in the original checkpoints
                value = value.reshape(*value.shape, 1, 1)
        out[new] = value
    return out


# ---------------------------------------------------------------- text encoders
def convert_clip_l_state_dict(text_encoder: nn.Module) -> dict[str, torch.Tensor]:
    """CLIP-L keeps the HF layout; transformers >= 5.6 dropped the ``text_model.`` level."""
    out = {}
    for key, value in text_encoder.state_dict().items():
        if key.endswith("position_ids"):
            continue
        if not key.startswith("text_model."):
            key = "text_model." + key
        out[key] = value
    return out


_OPEN_CLIP_MAP = [
    ("text_model.encoder.layers.", "transformer.resblocks."),
    ("layer_norm1", "ln_1"),
    ("layer_norm2", "ln_2"),
    (".fc1.", ".c_fc."),
    (".fc2.", ".c_proj."),
    (".self_attn.", ".attn."),
]
_OPEN_CLIP_TOP = {
    "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
    "text_model.embeddings.position_embedding.weight": "positional_embedding",
    "text_model.final_layer_norm.weight": "ln_final.weight",
    "text_model.final_layer_norm.bias": "ln_final.bias",
}


def convert_open_clip_state_dict(text_encoder_2: nn.Module) -> dict[str, torch.Tensor]:
    """HF CLIPTextModelWithProjection -> OpenCLIP (bigG) layout with fused q/k/v."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in text_encoder_2.state_dict().items():
        if key.endswith("position_ids"):
            continue
        if not key.startswith(("text_model.", "text_projection.")):
            key = "text_model." + key
        if key == "text_projection.weight":
            out["text_projection"] = value.T.contiguous()
            continue
        if key in _OPEN_CLIP_TOP:
            out[_OPEN_CLIP_TOP[key]] = value
            continue
        new = key
        for hf, sd in _OPEN_CLIP_MAP:
            new = new.replace(hf, sd)
        for proj in ("q_proj", "k_proj", "v_proj"):
            if f".attn.{proj}." in new:
                stem, _, kind = new.rpartition(f".{proj}.")
                qkv.setdefault(f"{stem}.in_proj_{kind}", {})[proj] = value
                break
        else:
            if new == key:
                raise KeyError(f"no OpenCLIP name for text_encoder_2 key {key!r}")
            out[new] = value
    for name, parts in qkv.items():
        out[name] = torch.cat([parts["q_proj"], parts["k_proj"], parts["v_proj"]])
    return out


# ---------------------------------------------------------------- all together
def pipeline_to_ldm_state_dict(pipe: StableDiffusionXLPipeline) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for prefix, part in (
        (UNET_PREFIX, convert_unet_state_dict(pipe.unet)),
        (VAE_PREFIX, convert_vae_state_dict(pipe.vae)),
        (CLIP_L_PREFIX, convert_clip_l_state_dict(pipe.text_encoder)),
        (OPEN_CLIP_PREFIX, convert_open_clip_state_dict(pipe.text_encoder_2)),
    ):
        for key, value in part.items():
            state[prefix + key] = value.detach().cpu().contiguous()
    return state


def export_single_file(pipe: StableDiffusionXLPipeline, path: Path) -> Path:
    """Write ``pipe``'s unet, vae and both text encoders as one original-layout safetensors file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(pipeline_to_ldm_state_dict(pipe), str(path))
    return path
