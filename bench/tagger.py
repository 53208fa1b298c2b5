"""Latency of the WD14 tagger behind ``/describe`` on this machine's CPU: ``python -m bench.tagger``.

Nothing is downloaded. ``vit`` is a model of ``SmilingWolf/wd-vit-tagger-v3``'s shape with
random weights, built here with ``onnx.helper``: NHWC BGR 0..255 input at 448x448, a ViT-B/16
(patch 16, width 768, depth 12, 12 heads, MLP 3072), mean pooling and a sigmoid head over
10861 labels, so it costs what the real model costs (not its tags). ``tiny`` is the tests'
32x32 tagger with constant outputs: the cost of everything around the model (decoding the
1024x1024 image into the input tensor, picking the tags). ``--config small`` shrinks the ViT
so the code path runs in seconds (its numbers say nothing).

Prints JSON: per model, load seconds and file size, then median and p90 milliseconds per image
for ``WD14Tagger.tag`` on a 1024x1024 RGB image (preprocessing included) and for
``prepare_image`` alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from bench.stats import percentile
from moderation.classifier import prepare_image
from moderation.tagger import WD14Tagger
from prompt.ratings import Rating


@dataclass(frozen=True)
class VitShape:
    size: int = 448
    patch: int = 16
    width: int = 768
    depth: int = 12
    heads: int = 12
    mlp: int = 3072
    labels: int = 10861
    characters: int = 2750  # the v3 label files' share of character rows, roughly


FULL = VitShape()
SMALL = VitShape(size=64, width=64, depth=2, heads=2, mlp=128, labels=300, characters=50)


class _Graph:
    """Nodes and random-weight initialisers, with generated names."""

    def __init__(self, seed: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.parameters = 0
        self._rng = np.random.default_rng(seed)
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def tensor(self, array: np.ndarray, *, learned: bool = False) -> str:
        name = self._name("w")
        self.initializers.append(numpy_helper.from_array(array, name))
        self.parameters += array.size if learned else 0
        return name

    def random(self, *shape: int) -> str:
        return self.tensor(self._rng.standard_normal(shape, dtype=np.float32) * 0.02, learned=True)

    def filled(self, value: float, *shape: int) -> str:
        return self.tensor(np.full(shape, value, dtype=np.float32), learned=True)

    def ints(self, *values: int) -> str:
        return self.tensor(np.asarray(values, dtype=np.int64))

    def op(self, op_type: str, inputs: list[str], **attributes: Any) -> str:
        output = self._name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attributes))
        return output

    def linear(self, x: str, fan_in: int, fan_out: int) -> str:
        return self.op("Add", [self.op("MatMul", [x, self.random(fan_in, fan_out)]), self.filled(0.0, fan_out)])

    def layer_norm(self, x: str, width: int) -> str:
        return self.op(
            "LayerNormalization", [x, self.filled(1.0, width), self.filled(0.0, width)], axis=-1, epsilon=1e-6
        )


def _attention(g: _Graph, x: str, shape: VitShape) -> str:
    head = shape.width // shape.heads
    qkv = g.op("Reshape", [g.linear(x, shape.width, 3 * shape.width), g.ints(0, -1, 3, shape.heads, head)])
    qkv = g.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])  # [3, batch, heads, tokens, head]
    q, k, v = (g.op("Gather", [qkv, g.tensor(np.asarray(i, dtype=np.int64))], axis=0) for i in range(3))
    scale = g.tensor(np.asarray(head**-0.5, dtype=np.float32))
    scores = g.op("MatMul", [g.op("Mul", [q, scale]), g.op("Transpose", [k], perm=[0, 1, 3, 2])])
    out = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    out = g.op("Reshape", [g.op("Transpose", [out], perm=[0, 2, 1, 3]), g.ints(0, -1, shape.width)])
    return g.linear(out, shape.width, shape.width)


def _block(g: _Graph, x: str, shape: VitShape) -> str:
    x = g.op("Add", [x, _attention(g, g.layer_norm(x, shape.width), shape)])
    hidden = g.op("Gelu", [g.linear(g.layer_norm(x, shape.width), shape.width, shape.mlp)])
    return g.op("Add", [x, g.linear(hidden, shape.mlp, shape.width)])


def vit_tagger_model(shape: VitShape, seed: int = 0) -> tuple[onnx.ModelProto, int]:
    """The ONNX model of a WD14 ViT tagger with random weights, and its parameter count."""
    g = _Graph(seed)
    tokens = (shape.size // shape.patch) ** 2
    x = g.op("Transpose", ["input"], perm=[0, 3, 1, 2])  # the export takes NHWC; the conv wants NCHW
    x = g.op("Sub", [g.op("Mul", [x, g.filled(1 / 127.5, 1)]), g.filled(1.0, 1)])
    x = g.op(
        "Conv",
        [x, g.random(shape.width, 3, shape.patch, shape.patch), g.filled(0.0, shape.width)],
        kernel_shape=[shape.patch, shape.patch],
        strides=[shape.patch, shape.patch],
    )
    x = g.op("Transpose", [g.op("Reshape", [x, g.ints(0, shape.width, -1)])], perm=[0, 2, 1])
    x = g.op("Add", [x, g.random(1, tokens, shape.width)])
    for _ in range(shape.depth):
        x = _block(g, x, shape)
    pooled = g.op("ReduceMean", [g.layer_norm(x, shape.width), g.ints(1)], keepdims=0)
    g.nodes.append(helper.make_node("Sigmoid", [g.linear(pooled, shape.width, shape.labels)], ["output"]))
    graph = helper.make_graph(
        g.nodes,
        "wd_vit_tagger_shape",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", shape.size, shape.size, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", shape.labels])],
        initializer=g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 20)])
    model.ir_version = 9
    return model, g.parameters


def vit_tagger(folder: Path, shape: VitShape, seed: int = 0) -> tuple[Path, int]:
    """A tagger folder (``model.onnx`` + ``selected_tags.csv``) for ``vit_tagger_model``."""
    model, parameters = vit_tagger_model(shape, seed)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    first_character = shape.labels - shape.characters
    with (folder / "selected_tags.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["tag_id", "name", "category", "count"])
        for i in range(shape.labels):
            if i < len(Rating):
                writer.writerow([i, Rating(i).label, 9, 0])
            else:
                writer.writerow([i, f"tag_{i}", 4 if i >= first_character else 0, 0])
    return folder, parameters


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "p90": round(percentile(values, 0.90), 2)}


def measure(folder: Path, image: Image.Image, *, runs: int, warmup: int) -> dict[str, Any]:
    started = time.perf_counter()
    tagger = WD14Tagger.from_source(str(folder))
    load_s = time.perf_counter() - started
    for _ in range(warmup):
        tagger.tag(image)
    tag_ms: list[float] = []
    prepare_ms: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        tagger.tag(image)
        tag_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        prepare_image(image, tagger.input_size)
        prepare_ms.append((time.perf_counter() - start) * 1000)
    return {
        "input_size": tagger.input_size,
        "labels": len(tagger.labels),
        "file_mib": round((folder / "model.onnx").stat().st_size / 2**20, 1),
        "load_s": round(load_s, 3),
        "tag_ms": _summary(tag_ms),
        "prepare_ms": _summary(prepare_ms),
    }


def main(*, config: str = "full", runs: int = 20, warmup: int = 2, image_size: int = 1024) -> dict[str, Any]:
    from tests.support.tiny_wd14 import tiny_tagger  # the tests' tiny model, as bench.generation does

    shape = FULL if config == "full" else SMALL
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (image_size, image_size, 3), dtype=np.uint8), "RGB")
    with tempfile.TemporaryDirectory() as temp:
        vit_folder, parameters = vit_tagger(Path(temp) / "vit", shape)
        vit = measure(vit_folder, image, runs=runs, warmup=warmup)
        vit["params_millions"] = round(parameters / 1e6, 1)
        scores = {"1girl": 0.99, "solo": 0.9, "long_hair": 0.8, "smile": 0.5, "rem_(re:zero)": 0.9}
        tiny_folder = tiny_tagger(Path(temp) / "tiny", scores, character_names={"rem_(re:zero)"})
        tiny = measure(tiny_folder, image, runs=runs, warmup=warmup)
    return {
        "benchmark": "tagger",
        "config": config,
        "cpu_count": os.cpu_count(),
        "onnxruntime": ort.__version__,
        "image": f"{image_size}x{image_size} RGB",
        "runs": runs,
        "models": {"vit": vit, "tiny": tiny},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=("full", "small"), default="full")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(main(config=args.config, runs=args.runs, warmup=args.warmup), indent=2))
