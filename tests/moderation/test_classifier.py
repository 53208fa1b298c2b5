"""The WD14 output classifier against tiny ONNX models built here with ``onnx.helper``.

``colour_model``: mean of each BGR channel (scaled to 0..1) → MatMul with a fixed 3×8 weight →
Sigmoid, so blue drives *general*, green *sensitive* and red *explicit* (questionable stays at
sigmoid(0) = 0.5). ``echo_model`` flattens its input, so the first four "scores" are the
first pixel's B, G, R and the second pixel's B: it shows exactly what the session was fed.
"""

from __future__ import annotations

import math
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from moderation import classifier as classifier_module
from moderation.classifier import (
    ClassifierLoadError,
    OutputClassifier,
    WD14Classifier,
    load_classifier,
    prepare_image,
    resolve_providers,
)
from moderation.scores import RatingScores
from prompt.ratings import Rating
from tests.support.tiny_wd14 import offline_hub_snapshot

SIZE = 32
N_TAGS = 8
STRENGTH = 4.0
WHITE = (255, 255, 255)
BLUE = (0, 0, 255)
RED = (255, 0, 0)
GREEN = (0, 255, 0)


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 18)])
    model.ir_version = 8  # readable by any onnxruntime from 1.15 on
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def colour_model(path: Path, size: int = SIZE) -> Path:
    weight = np.zeros((3, N_TAGS), dtype=np.float32)
    weight[0, 0] = STRENGTH  # B -> general
    weight[1, 1] = STRENGTH  # G -> sensitive
    weight[2, 3] = STRENGTH  # R -> explicit
    weight[0, 4:] = 1.0  # some ordinary tags after the ratings
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),
            helper.make_node("Mul", ["mean", "scale"], ["unit"]),
            helper.make_node("MatMul", ["unit", "weight"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["output"]),
        ],
        "tiny_wd14",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", size, size, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", N_TAGS])],
        initializer=[
            helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
            helper.make_tensor("scale", TensorProto.FLOAT, [], [1 / 255]),
            helper.make_tensor("weight", TensorProto.FLOAT, [3, N_TAGS], weight.flatten().tolist()),
        ],
    )
    return _save(graph, path)


def echo_model(path: Path, size: int) -> Path:
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["input", "shape"], ["output"])],
        "echo",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, size, size, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, size * size * 3])],
        initializer=[helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1])],
    )
    return _save(graph, path)


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return colour_model(tmp_path / "tagger.onnx")


# --- RatingScores ----------------------------------------------------------------------


def test_rating_is_argmax() -> None:
    assert RatingScores(0.9, 0.2, 0.1, 0.05).rating() is Rating.GENERAL
    assert RatingScores(0.1, 0.6, 0.3, 0.05).rating() is Rating.SENSITIVE
    assert RatingScores(0.1, 0.2, 0.7, 0.4).rating() is Rating.QUESTIONABLE
    assert RatingScores(0.1, 0.2, 0.3, 0.4).rating() is Rating.EXPLICIT


def test_ties_go_to_the_higher_rating() -> None:
    assert RatingScores(0.5, 0.5, 0.1, 0.1).rating() is Rating.SENSITIVE
    assert RatingScores(0.4, 0.1, 0.4, 0.1).rating() is Rating.QUESTIONABLE
    assert RatingScores(0.3, 0.3, 0.3, 0.3).rating() is Rating.EXPLICIT


def test_nan_scores_fail_closed() -> None:
    assert RatingScores(0.9, float("nan"), 0.0, 0.0).rating() is Rating.EXPLICIT


def test_score_lookup() -> None:
    scores = RatingScores(0.1, 0.2, 0.3, 0.4)
    assert scores.score(Rating.QUESTIONABLE) == 0.3
    assert scores.as_dict() == {
        Rating.GENERAL: 0.1,
        Rating.SENSITIVE: 0.2,
        Rating.QUESTIONABLE: 0.3,
        Rating.EXPLICIT: 0.4,
    }


# --- preprocessing ---------------------------------------------------------------------


def test_prepare_image_is_bgr_float32_nhwc_0_to_255() -> None:
    tensor = prepare_image(Image.new("RGB", (8, 8), (10, 20, 30)), 8)
    assert tensor.shape == (1, 8, 8, 3)
    assert tensor.dtype == np.float32
    assert tensor.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(tensor[0, 3, 3], [30, 20, 10])  # B, G, R, not normalised


def test_prepare_image_pads_to_a_centred_white_square() -> None:
    tensor = prepare_image(Image.new("RGB", (4, 2), RED), 4)  # wide: one white row above, one below
    assert tensor.shape == (1, 4, 4, 3)
    np.testing.assert_array_equal(tensor[0, 0], np.full((4, 3), 255))
    np.testing.assert_array_equal(tensor[0, 3], np.full((4, 3), 255))
    np.testing.assert_array_equal(tensor[0, 1:3], np.tile([0, 0, 255], (2, 4, 1)))

    tall = prepare_image(Image.new("RGB", (2, 4), BLUE), 4)  # tall: white columns left and right
    np.testing.assert_array_equal(tall[0, :, 0], np.full((4, 3), 255))
    np.testing.assert_array_equal(tall[0, :, 3], np.full((4, 3), 255))
    np.testing.assert_array_equal(tall[0, :, 1:3], np.tile([255, 0, 0], (4, 2, 1)))


def test_prepare_image_resizes_with_bicubic_to_the_requested_size() -> None:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (40, 100, 3), dtype=np.uint8), "RGB")  # 100×40
    tensor = prepare_image(image, 32)
    assert tensor.shape == (1, 32, 32, 3)

    square = Image.new("RGB", (100, 100), WHITE)
    square.paste(image, (0, 30))
    expected = np.asarray(square.resize((32, 32), Image.Resampling.BICUBIC), dtype=np.float32)[:, :, ::-1]
    np.testing.assert_array_equal(tensor[0], expected)
    np.testing.assert_array_equal(tensor[0, :5], np.full((5, 32, 3), 255))  # padding rows stay white


def test_prepare_image_composites_alpha_on_white() -> None:
    pixels = np.zeros((1, 3, 4), dtype=np.uint8)
    pixels[0, 0] = (255, 0, 0, 0)  # fully transparent red -> white
    pixels[0, 1] = (255, 0, 0, 255)  # opaque red -> red
    pixels[0, 2] = (0, 0, 0, 128)  # half-transparent black -> mid grey
    tensor = prepare_image(Image.fromarray(pixels, "RGBA"), 3)[0]
    np.testing.assert_array_equal(tensor[1, 0], [255, 255, 255])
    np.testing.assert_array_equal(tensor[1, 1], [0, 0, 255])
    assert np.all(np.abs(tensor[1, 2] - 127) <= 1)
    np.testing.assert_array_equal(tensor[0], np.full((3, 3), 255))  # square padding


def test_prepare_image_accepts_other_modes() -> None:
    grey = prepare_image(Image.new("L", (5, 5), 100), 5)
    np.testing.assert_array_equal(grey[0, 2, 2], [100, 100, 100])
    palette = Image.new("P", (5, 5), 0)
    palette.putpalette([10, 20, 30] + [0] * 765)
    np.testing.assert_array_equal(prepare_image(palette, 5)[0, 0, 0], [30, 20, 10])


def test_session_is_fed_the_prepared_tensor(tmp_path: Path) -> None:
    echo = WD14Classifier(echo_model(tmp_path / "echo.onnx", 4))
    assert echo.input_size == 4
    # 2 wide, 4 tall: pixel (0, 0) is white padding, pixel (0, 1) the red image, in BGR.
    scores = echo.classify(Image.new("RGB", (2, 4), RED))
    assert scores == RatingScores(255.0, 255.0, 255.0, 0.0)
    # The image is resized to the model's own input size, whatever its size.
    scores = echo.classify(Image.new("RGBA", (400, 400), (0, 255, 0, 255)))
    assert scores == RatingScores(0.0, 255.0, 0.0, 0.0)


# --- loading and scoring ---------------------------------------------------------------


def test_scores_follow_the_colour(model_file: Path) -> None:
    clf = WD14Classifier.from_source(str(model_file))
    assert clf.input_size == SIZE
    assert clf.providers == ["CPUExecutionProvider"]

    blue = clf.classify(Image.new("RGB", (64, 64), BLUE))
    assert blue.general == pytest.approx(sig(STRENGTH), abs=1e-5)
    assert blue.sensitive == pytest.approx(0.5, abs=1e-6)
    assert blue.questionable == pytest.approx(0.5, abs=1e-6)
    assert blue.explicit == pytest.approx(0.5, abs=1e-6)
    assert blue.rating() is Rating.GENERAL

    red = clf.classify(Image.new("RGB", (SIZE, SIZE), RED))  # no resize needed
    assert red.explicit == pytest.approx(sig(STRENGTH), abs=1e-5)
    assert red.rating() is Rating.EXPLICIT

    assert clf.classify(Image.new("RGB", (20, 20), GREEN)).rating() is Rating.SENSITIVE


def test_padding_counts_towards_the_scores(model_file: Path) -> None:
    clf = WD14Classifier.from_source(str(model_file))
    # Red strip 64×16 -> padded to 64×64 with white: mean R = 1, mean B = mean G = 3/4.
    scores = clf.classify(Image.new("RGB", (64, 16), RED))
    assert scores.explicit == pytest.approx(sig(STRENGTH), abs=1e-4)
    assert scores.general == pytest.approx(sig(0.75 * STRENGTH), abs=1e-4)
    assert scores.rating() is Rating.EXPLICIT


def test_from_folder_containing_model_onnx(tmp_path: Path) -> None:
    folder = tmp_path / "wd-vit-tagger-v3"
    colour_model(folder / "model.onnx")
    clf = WD14Classifier.from_source(str(folder))
    assert clf.model_path == folder / "model.onnx"
    assert clf.classify(Image.new("RGB", (8, 8), BLUE)).rating() is Rating.GENERAL


def test_from_hub_repo_id_reads_the_local_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    snapshot = offline_hub_snapshot(cache, monkeypatch)
    colour_model(snapshot / "model.onnx")

    clf = load_classifier("wd14", "SmilingWolf/wd-vit-tagger-v3", cache_dir=str(cache), device="cpu")
    assert isinstance(clf, WD14Classifier)
    assert clf.model_path.resolve() == (snapshot / "model.onnx").resolve()
    assert clf.classify(Image.new("RGB", (8, 8), RED)).rating() is Rating.EXPLICIT


def test_hub_repo_missing_offline_is_a_load_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ClassifierLoadError, match="SmilingWolf/not-cached"):
        WD14Classifier.from_source("SmilingWolf/not-cached", cache_dir=str(tmp_path / "empty"))


def test_load_classifier_kinds(model_file: Path) -> None:
    assert load_classifier("none", "", cache_dir=None, device="cpu") is None
    assert load_classifier("none", "whatever", cache_dir=None, device="cuda") is None
    clf: OutputClassifier | None = load_classifier("wd14", str(model_file), cache_dir=None, device="cpu")
    assert isinstance(clf, WD14Classifier)
    with pytest.raises(ValueError, match="unknown classifier kind 'nudenet'; allowed: none, wd14"):
        load_classifier("nudenet", str(model_file), cache_dir=None, device="cpu")


def test_missing_file_is_a_load_error_naming_the_source(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.onnx")
    with pytest.raises(ClassifierLoadError, match="nope.onnx"):
        load_classifier("wd14", missing, cache_dir=None, device="cpu")
    with pytest.raises(ClassifierLoadError, match="without model.onnx"):
        WD14Classifier.from_source(str(tmp_path))
    with pytest.raises(ClassifierLoadError, match="not a repo"):
        WD14Classifier.from_source("not a repo")


def test_corrupt_or_foreign_model_is_a_load_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"definitely not protobuf")
    with pytest.raises(ClassifierLoadError, match="garbage.onnx"):
        WD14Classifier(garbage)

    nchw = tmp_path / "nchw.onnx"
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])],
        "nchw",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    _save(graph, nchw)
    with pytest.raises(ClassifierLoadError, match="NHWC"):
        WD14Classifier(nchw)


def test_device_selects_providers(monkeypatch: pytest.MonkeyPatch, model_file: Path) -> None:
    assert resolve_providers("cpu") == ["CPUExecutionProvider"]
    with pytest.raises(ValueError, match="allowed: auto, cuda, cpu"):
        resolve_providers("tpu")

    monkeypatch.setattr(classifier_module.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert resolve_providers("cuda") == ["CPUExecutionProvider"]  # falls back, with a warning
    assert resolve_providers("auto") == ["CPUExecutionProvider"]
    assert WD14Classifier.from_source(str(model_file), device="cuda").providers == ["CPUExecutionProvider"]

    monkeypatch.setattr(
        classifier_module.ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    assert resolve_providers("cuda") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers("auto") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers("cpu") == ["CPUExecutionProvider"]
