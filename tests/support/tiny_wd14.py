"""Tiny ONNX models with the WD14 tagger's signature: a constant rating, or a whole tagger folder,
and the label file that names a tiny model's outputs."""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import huggingface_hub.constants
import onnx
import pytest
from onnx import TensorProto, helper

from prompt.ratings import Rating
from prompt.tags import TagCategory, TagDatabase

SIZE = 32
N_TAGS = 8
RATING_LABELS = tuple(r.label for r in Rating)
DEFAULT_RATINGS = {"general": 0.9, "sensitive": 0.08, "questionable": 0.01, "explicit": 0.01}

HUB_REPO = "SmilingWolf/wd-vit-tagger-v3"


def constant_rating_model(path: Path, rating: Rating) -> Path:
    """Input [batch, 32, 32, 3] float32 -> output [batch, 8] scores; `rating` wins."""
    low, high = 1 / (1 + math.exp(4.0)), 1 / (1 + math.exp(-4.0))  # sigmoid(-4), sigmoid(4)
    values = [high if i == int(rating) else low for i in range(N_TAGS)]
    return _constant_model(path, values)


def tiny_tagger(
    folder: Path,
    scores: Mapping[str, float],
    *,
    ratings: Mapping[str, float] | None = None,
    character_names: Collection[str] | None = None,
) -> Path:
    """A WD14 tagger folder (``model.onnx`` + ``selected_tags.csv``) that sees the same tags in every image.

    The model keeps the 32x32 input of ``constant_rating_model`` and outputs exactly the
    given probabilities (float32), the ratings first, then ``scores`` in their order.
    A label is a character when ``character_names`` names it; without that list, when the
    vendored Danbooru data says so.
    """
    given = dict(ratings or DEFAULT_RATINGS)
    unknown = set(given) - set(RATING_LABELS)
    if unknown:
        raise ValueError(f"unknown rating labels {sorted(unknown)}; allowed: {', '.join(RATING_LABELS)}")
    names = [*RATING_LABELS, *scores]
    values = [given.get(r, 0.0) for r in RATING_LABELS] + list(scores.values())
    categories = [9] * len(RATING_LABELS) + [4 if _is_character(n, character_names) else 0 for n in scores]

    folder.mkdir(parents=True, exist_ok=True)
    _constant_model(folder / "model.onnx", values)
    _write_labels(folder / "selected_tags.csv", names, categories)
    return folder


# What the 8 outputs of constant_rating_model's (and other tiny) models are called: the ratings,
# then ordinary tags and one minor-coded tag (`child`, scored low), so that the output check's
# minor rule, on by default, can load beside them.
ORDINARY_TAGS = ("1girl", "solo", "smile", "child")


def labels_beside(model: Path, tags: Sequence[str] = ORDINARY_TAGS) -> Path:
    """A ``selected_tags.csv`` beside ``model`` naming its outputs: the ratings, then ``tags``
    (general tags)."""
    names = [*RATING_LABELS, *tags]
    return _write_labels(model.parent / "selected_tags.csv", names, [9] * len(RATING_LABELS) + [0] * len(tags))


def _write_labels(path: Path, names: Sequence[str], categories: Sequence[int]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["tag_id", "name", "category", "count"])
        for tag_id, (name, category) in enumerate(zip(names, categories, strict=True)):
            writer.writerow([tag_id, name, category, 1000])
    return path


def _is_character(name: str, character_names: Collection[str] | None) -> bool:
    if character_names is not None:
        return name in character_names
    return _danbooru().category(name) == TagCategory.CHARACTER


@functools.cache
def _danbooru() -> TagDatabase:
    return TagDatabase.load()


def _constant_model(path: Path, values: Sequence[float]) -> Path:
    n = len(values)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),  # [batch, 3]
            helper.make_node("MatMul", ["mean", "zeros"], ["nothing"]),  # [batch, n] of zeros
            helper.make_node("Add", ["nothing", "probs"], ["output"]),
        ],
        "constant_wd14_tagger",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", n])],
        initializer=[
            helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
            helper.make_tensor("zeros", TensorProto.FLOAT, [3, n], [0.0] * (3 * n)),
            helper.make_tensor("probs", TensorProto.FLOAT, [n], list(values)),
        ],
    )
    return save_graph(graph, path)


def save_graph(graph: onnx.GraphProto, path: Path) -> Path:
    """A checked ONNX model of ``graph`` at ``path``, in the opset and IR version onnxruntime reads."""
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def offline_hub_snapshot(cache: Path, monkeypatch: pytest.MonkeyPatch, repo_id: str = HUB_REPO) -> Path:
    """The snapshot folder of ``repo_id`` in a Hugging Face cache at ``cache``, as a download would
    leave it (``refs/main`` names the commit), with the Hub offline: put a model's files there."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return repo / "snapshots" / commit
