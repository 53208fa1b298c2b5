"""Which of the three supported model sources a ``[model] source`` names: torch-free, so that
``python bot.py check`` tells a typo in a fraction of a second."""

from __future__ import annotations

import enum
import re
from pathlib import Path

from core.errors import ModelLoadError

SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class SourceKind(enum.Enum):
    HUB = "hub repo id"
    FOLDER = "diffusers folder"
    SINGLE_FILE = "single file"


def classify_source(source: str) -> SourceKind:
    """Tell which of the three supported sources a config value names, or explain why none."""
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix.lower() not in SINGLE_FILE_SUFFIXES:
            raise ModelLoadError(f"[model] source {source!r} is a file but not a .safetensors/.ckpt checkpoint")
        return SourceKind.SINGLE_FILE
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ModelLoadError(
                f"[model] source {source!r} is a folder without model_index.json; "
                "point it at a diffusers pipeline folder (as saved by save_pretrained)"
            )
        return SourceKind.FOLDER
    looks_like_path = (
        source.startswith(("/", ".", "~")) or source.endswith(SINGLE_FILE_SUFFIXES) or source.count("/") > 1
    )
    if not looks_like_path and _REPO_ID.match(source):
        return SourceKind.HUB
    raise ModelLoadError(
        f"[model] source {source!r} was not found: expected a Hugging Face repo id like "
        "'cagliostrolab/animagine-xl-3.1', an existing diffusers folder, or an existing .safetensors file"
    )
