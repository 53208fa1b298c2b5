"""A tiny ONNX model with the WD14 tagger's signature that always gives one rating."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from prompt.ratings import Rating

SIZE = 32
N_TAGS = 8


def constant_rating_model(path: Path, rating: Rating) -> Path:
    """Input [batch, 32, 32, 3] float32 -> output [batch, 8] sigmoid scores; `rating` wins."""
    bias = [-4.0] * N_TAGS
    bias[int(rating)] = 4.0
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),  # [batch, 3]
            helper.make_node("MatMul", ["mean", "zeros"], ["nothing"]),  # [batch, 8] of zeros
            helper.make_node("Add", ["nothing", "bias"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["output"]),
        ],
        "constant_wd14",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", N_TAGS])],
        initializer=[
            helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
            helper.make_tensor("zeros", TensorProto.FLOAT, [3, N_TAGS], [0.0] * (3 * N_TAGS)),
            helper.make_tensor("bias", TensorProto.FLOAT, [N_TAGS], bias),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path
