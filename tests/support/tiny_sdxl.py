"""Tiny, seeded, random-weight SDXL pipelines for tests.

The shapes follow diffusers' own ``StableDiffusionXLPipelineFastTests.get_dummy_components``;
the CLIP tokenizer is written locally (a byte-level vocab plus a few merges) because tests
cannot reach the Hub. ``attention=False`` builds a UNet and VAE without attention blocks,
which is what makes full-size (e.g. 832x1216) images affordable on a 2-core CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    EulerAncestralDiscreteScheduler,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

from moderation.clip_tokens import bytes_to_unicode

# A handful of merges so that common tags become single tokens, as with the real tokenizer.
_WORDS = (
    "girl",
    "boy",
    "hair",
    "long",
    "short",
    "blue",
    "red",
    "eyes",
    "smile",
    "solo",
    "best",
    "quality",
    "masterpiece",
    "very",
    "aesthetic",
    "absurdres",
    "lowres",
    "text",
    "bad",
    "error",
    "nsfw",
    "safe",
    "sky",
    "cat",
    "dress",
    "looking",
    "at",
    "viewer",
)


TEXT_WIDTH = 32
TEXT_WIDTH_2 = 48


def write_tiny_tokenizer(folder: Path) -> Path:
    """Write vocab.json + merges.txt of a CLIP BPE tokenizer with < 1000 tokens."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(bytes_to_unicode().values())
    vocab_list = chars + [c + "</w>" for c in chars]
    merges: list[str] = []
    for word in _WORDS:
        # Merge left to right: g+i, gi+r, gir+l</w> ...
        pieces = [*list(word[:-1]), word[-1] + "</w>"]
        current = pieces[0]
        for piece in pieces[1:]:
            merges.append(f"{current} {piece}")
            current = current + piece
            if current not in vocab_list:
                vocab_list.append(current)
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(vocab_list))}
    assert len(vocab) < 1000
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n", encoding="utf-8")
    return folder


def tiny_tokenizers(folder: Path) -> tuple[CLIPTokenizer, CLIPTokenizer]:
    """SDXL's two CLIP tokenizers over the small vocabulary written into ``folder``."""
    tok_dir = write_tiny_tokenizer(folder)
    vocab, merges = str(tok_dir / "vocab.json"), str(tok_dir / "merges.txt")
    # SDXL's second tokenizer pads with "!" (id 0 in the real vocab), as OpenCLIP does.
    return (
        CLIPTokenizer(vocab, merges, model_max_length=77),
        CLIPTokenizer(vocab, merges, model_max_length=77, pad_token="!"),
    )


def _text_config(layers: int, hidden_size: int) -> CLIPTextConfig:
    return CLIPTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        hidden_size=hidden_size,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=layers,
        pad_token_id=1,
        vocab_size=1000,
        hidden_act="gelu",
        projection_dim=32,
    )


def build_tiny_sdxl(workdir: Path, *, attention: bool = True, seed: int = 0) -> StableDiffusionXLPipeline:
    """Build a tiny SDXL pipeline with seeded random weights (float32, CPU)."""
    torch.manual_seed(seed)
    if attention:
        unet = UNet2DConditionModel(
            block_out_channels=(2, 4),
            layers_per_block=2,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 2),
            projection_class_embeddings_input_dim=80,  # 6 * 8 + 32
            cross_attention_dim=TEXT_WIDTH + TEXT_WIDTH_2,
            norm_num_groups=1,
        )
    else:
        unet = UNet2DConditionModel(
            block_out_channels=(4, 8),
            layers_per_block=1,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "UpBlock2D"),
            mid_block_type=None,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            projection_class_embeddings_input_dim=80,
            cross_attention_dim=TEXT_WIDTH + TEXT_WIDTH_2,
            norm_num_groups=1,
        )
    torch.manual_seed(seed)
    vae = AutoencoderKL(
        block_out_channels=[32, 64] if attention else [4, 4],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        sample_size=128,
        norm_num_groups=32 if attention else 1,
        mid_block_add_attention=attention,
    )
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(_text_config(5, TEXT_WIDTH))
    torch.manual_seed(seed)
    # Ten layers so that diffusers recognises an exported single file as SDXL (it probes
    # for `resblocks.9` of the second encoder), and wider than the first encoder because
    # diffusers' single-file loader tells the two apart by width (768 vs 1280 in SDXL).
    text_encoder_2 = CLIPTextModelWithProjection(_text_config(10, TEXT_WIDTH_2))
    tokenizer, tokenizer_2 = tiny_tokenizers(workdir / "tokenizer-src")
    scheduler = EulerAncestralDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=tokenizer_2,
        unet=unet,
        scheduler=scheduler,
        add_watermarker=False,
    )


def save_tiny_sdxl(folder: Path, *, attention: bool = True, seed: int = 0) -> Path:
    """Save a tiny SDXL pipeline in the diffusers folder layout and return the folder."""
    pipe = build_tiny_sdxl(folder.parent / f".{folder.name}-build", attention=attention, seed=seed)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
