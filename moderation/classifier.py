"""Post-generation output classifier: rate a finished image before it is posted.

The bot asks the classifier for the image's Danbooru rating; when that exceeds the
channel's ceiling the caller withholds or spoilers the image. The only real backend is a
SmilingWolf WD14-style ONNX tagger (e.g. ``SmilingWolf/wd-vit-tagger-v3``): its first four
outputs are the rating tags general, sensitive, questionable, explicit.

With the minor rule on (``load_classifier(..., minor_check=True)``) the classifier also reads
the model's label file and reports, from the same ONNX pass, its most confident minor-coded
label (``moderation.minor_labels``).

``classify`` is synchronous and CPU/GPU bound; callers run it in a worker thread.
``moderation.tagger`` reads every label of the same model on top of this session.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime as ort
from huggingface_hub import hf_hub_download
from PIL import Image

from core.errors import ClassifierLoadError
from moderation.labels import LABELS_FILENAME, read_labels
from moderation.minor_labels import MinorLabels
from moderation.scores import RatingScores
from prompt.ratings import Rating

log = logging.getLogger(__name__)

CLASSIFIER_KINDS = ("none", "wd14")
DEVICES = ("auto", "cuda", "cpu")
MODEL_FILENAME = "model.onnx"
CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_WHITE = (255, 255, 255)


class OutputClassifier(Protocol):
    def classify(self, image: Image.Image) -> RatingScores:
        """Rate one image. Synchronous; callers run it in a thread."""
        ...


def prepare_image(image: Image.Image, size: int) -> np.ndarray:
    """Turn an image into the WD14 taggers' input tensor: float32 ``[1, size, size, 3]``, BGR, 0..255.

    Mirrors ``prepare_image`` in SmilingWolf's ``wd-tagger`` Space (app.py): composite on
    white (any alpha), pad to a centred square with white, bicubic resize to the model's
    input size, RGB→BGR, no normalisation, add the batch dimension.
    """
    # Converting to RGBA first handles every mode (palette transparency, LA, L, CMYK…).
    canvas = Image.new("RGBA", image.size, (*_WHITE, 255))
    canvas.alpha_composite(image.convert("RGBA"))
    rgb = canvas.convert("RGB")

    width, height = rgb.size
    side = max(width, height)
    if width != height:
        square = Image.new("RGB", (side, side), _WHITE)
        square.paste(rgb, ((side - width) // 2, (side - height) // 2))
        rgb = square
    if side != size:
        rgb = rgb.resize((size, size), Image.Resampling.BICUBIC)

    array = np.asarray(rgb, dtype=np.float32)[:, :, ::-1]  # PIL-native RGB -> BGR
    return np.ascontiguousarray(array[np.newaxis])


def resolve_providers(device: str) -> list[str]:
    """onnxruntime providers for a ``[model] device``-style setting ("auto", "cuda", "cpu")."""
    if device not in DEVICES:
        raise ValueError(f"unknown classifier device {device!r}; allowed: {', '.join(DEVICES)}")
    if device == "cpu":
        return [CPU_PROVIDER]
    if CUDA_PROVIDER in ort.get_available_providers():
        return [CUDA_PROVIDER, CPU_PROVIDER]
    if device == "cuda":
        log.warning("classifier device = 'cuda' but onnxruntime has no CUDA provider; using the CPU")
    return [CPU_PROVIDER]


class WD14Classifier:
    """A SmilingWolf WD14-style ONNX tagger used only for its four rating outputs."""

    def __init__(
        self, model_path: Path, *, providers: Sequence[str] | None = None, minor_labels: MinorLabels | None = None
    ) -> None:
        """``minor_labels``: the model's minor-coded outputs, for the minor rule (None: not read)."""
        self.model_path = Path(model_path)
        try:
            self._session = ort.InferenceSession(
                str(self.model_path), providers=list(providers) if providers else [CPU_PROVIDER]
            )
        except Exception as exc:  # onnxruntime raises its own (non-public) exception types
            raise ClassifierLoadError(f"could not load the ONNX classifier {str(self.model_path)!r}: {exc}") from exc

        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise ClassifierLoadError(
                f"classifier {str(self.model_path)!r} has {len(inputs)} inputs and {len(outputs)} outputs; "
                "a WD14 tagger has one image input and a tag-probability output"
            )
        shape = inputs[0].shape
        if len(shape) != 4 or shape[3] != 3 or not isinstance(shape[1], int) or shape[1] != shape[2]:
            raise ClassifierLoadError(
                f"classifier {str(self.model_path)!r} takes input of shape {shape}; "
                "a WD14 tagger takes NHWC [batch, size, size, 3] with a fixed size"
            )
        out_shape = outputs[0].shape
        width = out_shape[-1] if out_shape and isinstance(out_shape[-1], int) else None
        if width is not None and width < len(Rating):
            raise ClassifierLoadError(
                f"classifier {str(self.model_path)!r} outputs shape {out_shape}; "
                f"a WD14 tagger's first {len(Rating)} outputs are the ratings"
            )
        self.input_name: str = inputs[0].name
        self.output_name: str = outputs[0].name
        self.input_size: int = shape[1]
        # None when the model leaves it dynamic; the tagger then checks each result instead.
        self.output_width: int | None = width
        self.providers: list[str] = self._session.get_providers()
        self.minor_labels = minor_labels

    @classmethod
    def from_source(cls, source: str, *, cache_dir: str | None = None, device: str = "cpu") -> WD14Classifier:
        """Load from a local ``.onnx`` file, a local folder holding ``model.onnx``, or a Hub repo id.

        A repo id's ``model.onnx`` is downloaded on first use (into ``cache_dir``, or the
        Hugging Face default when empty/None) and read from the cache afterwards.
        """
        providers = resolve_providers(device)
        return cls(resolve_model_path(source, cache_dir=cache_dir), providers=providers)

    def probabilities(self, image: Image.Image) -> np.ndarray:
        """Every output of the model for one image, as a flat float64 vector (label order)."""
        tensor = prepare_image(image, self.input_size)
        (probs,) = self._session.run([self.output_name], {self.input_name: tensor})
        return np.asarray(probs, dtype=np.float64).reshape(-1)

    def classify(self, image: Image.Image) -> RatingScores:
        probs = self.probabilities(image)  # one pass: the ratings and the minor-coded labels
        first = probs[: len(Rating)]
        if first.shape[0] < len(Rating):
            raise RuntimeError(f"classifier {str(self.model_path)!r} returned {first.shape[0]} scores, expected ≥4")
        minor = None
        if self.minor_labels is not None:
            if len(self.minor_labels) and probs.shape[0] <= int(self.minor_labels.indices.max()):
                raise RuntimeError(
                    f"classifier {str(self.model_path)!r} returned {probs.shape[0]} scores, fewer than its labels"
                )
            minor = self.minor_labels.strongest(probs)
        return RatingScores.of(first, minor)


def resolve_model_path(source: str, *, cache_dir: str | None = None) -> Path:
    """The local path of the ONNX model a ``source`` names, downloading a Hub repo's on first use."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        model = path / MODEL_FILENAME
        if not model.is_file():
            raise ClassifierLoadError(f"classifier source {source!r} is a folder without {MODEL_FILENAME}")
        return model
    looks_like_path = source.startswith(("/", ".", "~")) or source.endswith(".onnx") or source.count("/") != 1
    if looks_like_path or not _REPO_ID.match(source):
        raise ClassifierLoadError(
            f"classifier source {source!r} was not found: expected an existing .onnx file, a folder "
            f"containing {MODEL_FILENAME}, or a Hugging Face repo id like 'SmilingWolf/wd-vit-tagger-v3'"
        )
    return download_from_hub(source, MODEL_FILENAME, cache_dir=cache_dir)


def download_from_hub(repo_id: str, filename: str, *, cache_dir: str | None = None) -> Path:
    """One file of a Hub repo, downloaded on first use and read from the cache afterwards."""
    try:
        downloaded = hf_hub_download(repo_id=repo_id, filename=filename, cache_dir=cache_dir or None)
    except Exception as exc:  # offline, missing repo/file, network, auth: all the same to the operator
        raise ClassifierLoadError(
            f"could not get {filename} of classifier repo {repo_id!r} from the Hugging Face Hub "
            f"(cache_dir={cache_dir or 'default'}): {exc}"
        ) from exc
    return Path(downloaded)


def labels_path(source: str, model_path: Path, *, cache_dir: str | None = None) -> Path:
    """The ``selected_tags.csv`` of the model a ``source`` names: beside a local model, or
    downloaded from the Hub repo on first use."""
    if Path(source).expanduser().exists():
        labels = model_path.parent / LABELS_FILENAME
        if not labels.is_file():
            raise ClassifierLoadError(
                f"tagger source {source!r} has no {LABELS_FILENAME} beside {model_path.name}; a WD14 tagger "
                f"needs both files of its repo ({MODEL_FILENAME} and {LABELS_FILENAME})"
            )
        return labels
    # resolve_model_path accepted the source, so it is a Hub repo id.
    return download_from_hub(source, LABELS_FILENAME, cache_dir=cache_dir)


def _minor_labels(source: str, model_path: Path, cache_dir: str | None) -> MinorLabels:
    """The minor-coded outputs of the model, from its label file; every way this fails says how
    to fix it, or how to turn the minor rule off."""
    off = "or turn the output check's minor rule off with [moderation] minor_check = false"
    try:
        labels = read_labels(labels_path(source, model_path, cache_dir=cache_dir))
    except ClassifierLoadError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClassifierLoadError(
            f"the minor rule needs the tagger's labels: {first}; put the model's {LABELS_FILENAME} there, {off}"
        ) from exc
    minors = MinorLabels.of(labels)
    if not len(minors):
        raise ClassifierLoadError(
            f"the labels of tagger {source!r} name none of the minor-coded tags of moderation/data "
            f"(loli, shota, child, …), so the minor rule could not see them: use a WD14 tagger, {off}"
        )
    return minors


def _wd14(source: str, *, cache_dir: str | None, device: str, minor_check: bool) -> WD14Classifier:
    providers = resolve_providers(device)
    model_path = resolve_model_path(source, cache_dir=cache_dir)
    minors = _minor_labels(source, model_path, cache_dir) if minor_check else None
    classifier = WD14Classifier(model_path, providers=providers, minor_labels=minors)
    width = classifier.output_width
    if minors is not None and width is not None and width <= int(minors.indices.max()):
        raise ClassifierLoadError(
            f"tagger {source!r} has {width} outputs, fewer than its {LABELS_FILENAME} has rows; "
            "they must be the same model's files"
        )
    return classifier


def load_classifier(
    kind: str, source: str, *, cache_dir: str | None = None, device: str = "cpu", minor_check: bool = False
) -> OutputClassifier | None:
    """Build the configured output classifier; ``"none"`` disables classification (returns None).

    ``minor_check``: also read the model's labels and report its most confident minor-coded
    label with every image (``[moderation] minor_check``; ClassifierLoadError when the labels
    cannot be had or name no minor-coded tag).
    """
    normalized = kind.strip().lower()
    if normalized == "none":
        return None
    if normalized == "wd14":
        return _wd14(source, cache_dir=cache_dir, device=device, minor_check=minor_check)
    raise ValueError(f"unknown classifier kind {kind!r}; allowed: {', '.join(CLASSIFIER_KINDS)}")
