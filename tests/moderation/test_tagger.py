"""The full WD14 tagger against ``tiny_tagger`` folders: constant, known probabilities per label."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from moderation import classifier as classifier_module
from moderation.classifier import OutputClassifier
from moderation.tagger import ClassifierLoadError, ImageTags, TagLabels, WD14Tagger, read_labels
from prompt.describe import describe_prompt
from prompt.ratings import Rating
from prompt.tags import TagDatabase
from tests.support.tiny_wd14 import constant_rating_model, tiny_tagger

SCORES = {
    "1girl": 0.99,
    "solo": 0.93,
    "long_hair": 0.6,
    "smile": 0.36,
    "open_mouth": 0.34,
    "rem_(re:zero)": 0.95,
    "ram_(re:zero)": 0.84,
    "hatsune_miku": 0.2,
}
CHARACTERS = {"rem_(re:zero)", "ram_(re:zero)", "hatsune_miku"}
HEADER = "tag_id,name,category,count\n"
RATING_ROWS = "0,general,9,1\n1,sensitive,9,1\n2,questionable,9,1\n3,explicit,9,1\n"
IMAGE = Image.new("RGB", (64, 48), (200, 100, 50))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_tagger(tmp_path_factory.mktemp("tagger") / "wd-vit-tagger-v3", SCORES, character_names=CHARACTERS)


@pytest.fixture(scope="module")
def tagger(folder: Path) -> WD14Tagger:
    return WD14Tagger.from_source(str(folder))


def _approx(pairs: tuple[tuple[str, float], ...]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, pytest.approx(conf, abs=1e-6)) for name, conf in pairs)


# --- tagging ---------------------------------------------------------------------------


def test_default_thresholds_keep_confident_tags_most_confident_first(tagger: WD14Tagger) -> None:
    tags = tagger.tag(IMAGE)
    assert [name for name, _ in tags.general] == ["1girl", "solo", "long_hair", "smile"]  # 0.35 keeps 0.36
    assert tags.general == _approx((("1girl", 0.99), ("solo", 0.93), ("long_hair", 0.6), ("smile", 0.36)))
    assert tags.characters == _approx((("rem_(re:zero)", 0.95),))  # 0.85 drops ram at 0.84
    assert tags.scores.general == pytest.approx(0.9, abs=1e-6)
    assert tags.rating is Rating.GENERAL


def test_thresholds_are_configurable(tagger: WD14Tagger) -> None:
    tags = tagger.tag(IMAGE, general_threshold=0.9, character_threshold=0.1)
    assert [name for name, _ in tags.general] == ["1girl", "solo"]
    assert [name for name, _ in tags.characters] == ["rem_(re:zero)", "ram_(re:zero)", "hatsune_miku"]
    everything = tagger.tag(IMAGE, general_threshold=0.01, character_threshold=1.0)
    assert [name for name, _ in everything.general][-1] == "open_mouth"
    assert everything.characters == ()


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.01, math.nan])
def test_thresholds_must_be_in_0_to_1(tagger: WD14Tagger, bad: float) -> None:
    with pytest.raises(ValueError, match="general_threshold must be above 0 and at most 1"):
        tagger.tag(IMAGE, general_threshold=bad)
    with pytest.raises(ValueError, match="character_threshold"):
        tagger.tag(IMAGE, character_threshold=bad)


def test_a_tagger_is_an_output_classifier(tmp_path: Path) -> None:
    ratings = {"general": 0.1, "sensitive": 0.3, "questionable": 0.7, "explicit": 0.2}
    folder = tiny_tagger(tmp_path / "t", {"1girl": 0.9}, ratings=ratings, character_names=())
    classifier: OutputClassifier = WD14Tagger.from_source(str(folder))
    scores = classifier.classify(Image.new("RGBA", (10, 300)))
    assert scores.as_dict() == {r: pytest.approx(ratings[r.label], abs=1e-6) for r in Rating}
    assert scores.rating() is Rating.QUESTIONABLE
    tags = WD14Tagger.from_source(str(folder)).tag(Image.new("L", (5, 5)))
    assert tags == ImageTags(scores, tags.general, ()) and tags.rating is Rating.QUESTIONABLE


def test_tiny_tagger_reads_characters_from_the_danbooru_data(tmp_path: Path) -> None:
    folder = tiny_tagger(tmp_path / "t", {"1girl": 0.9, "rem_(re:zero)": 0.9, "maid": 0.8})
    tags = WD14Tagger.from_source(str(folder)).tag(IMAGE)
    assert [n for n, _ in tags.characters] == ["rem_(re:zero)"]
    assert [n for n, _ in tags.general] == ["1girl", "maid"]


def test_tags_to_an_ordered_prompt(tagger: WD14Tagger, tag_db: TagDatabase) -> None:
    tags = tagger.tag(IMAGE, character_threshold=0.8)
    described = describe_prompt(tags.characters, tags.general, tag_db)
    assert described.prompt == (
        r"1girl, rem \(re:zero\), ram \(re:zero\), re:zero kara hajimeru isekai seikatsu, solo, long hair, smile"
    )


# --- loading ---------------------------------------------------------------------------


def test_labels(folder: Path) -> None:
    labels = read_labels(folder / "selected_tags.csv")
    assert isinstance(labels, TagLabels) and len(labels) == 4 + len(SCORES)
    assert labels.names[:5] == ("general", "sensitive", "questionable", "explicit", "1girl")
    assert labels.indices(4).tolist() == [9, 10, 11]
    assert labels.indices(1).tolist() == []


def test_from_an_onnx_file_with_labels_beside_it(folder: Path, tmp_path: Path) -> None:
    tagger = WD14Tagger.from_source(str(folder / "model.onnx"))
    assert tagger.labels_path == folder / "selected_tags.csv"

    lone = constant_rating_model(tmp_path / "lone" / "model.onnx", Rating.GENERAL)
    with pytest.raises(ClassifierLoadError, match=r"has no selected_tags\.csv beside model\.onnx"):
        WD14Tagger.from_source(str(lone))
    with pytest.raises(ClassifierLoadError, match="without model.onnx"):
        WD14Tagger.from_source(str(tmp_path))


def test_label_rows_must_match_the_model_outputs(folder: Path, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    (mixed / "model.onnx").write_bytes((folder / "model.onnx").read_bytes())
    (mixed / "selected_tags.csv").write_text(HEADER + RATING_ROWS + "4,1girl,0,1\n", encoding="utf-8")
    with pytest.raises(ClassifierLoadError, match=r"have 5 rows but the model .* has 12 outputs"):
        WD14Tagger.from_source(str(mixed))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b"name,count\n" + RATING_ROWS.encode(), "lack the column.s. category"),
        ((HEADER + RATING_ROWS + "4,long_hair,x,1\n").encode(), "line 6: expected a name and a category"),
        ((HEADER + RATING_ROWS + "4,,0,1\n").encode(), "line 6"),
        ((HEADER + "0,1girl,0,1\n" + RATING_ROWS).encode(), "start with .'1girl'"),
        ((HEADER + RATING_ROWS.replace(",9,", ",0,")).encode(), "rating rows general, sensitive"),
        (HEADER.encode(), "start with \\[\\]"),
        (b"\xff\xfe\x00 not utf-8", "could not read"),
    ],
)
def test_unusable_label_files_name_the_file(tmp_path: Path, text: bytes, error: str) -> None:
    path = tmp_path / "selected_tags.csv"
    path.write_bytes(text)
    with pytest.raises(ClassifierLoadError, match=error) as caught:
        read_labels(path)
    assert str(path) in str(caught.value)


def test_missing_label_file(tmp_path: Path) -> None:
    with pytest.raises(ClassifierLoadError, match="could not read the tagger's labels .*nope.csv"):
        read_labels(tmp_path / "nope.csv")


# --- the Hub ---------------------------------------------------------------------------


def test_repo_id_downloads_both_files(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, str, str | None]] = []

    def fake_download(*, repo_id: str, filename: str, cache_dir: str | None) -> str:
        asked.append((repo_id, filename, cache_dir))
        return str(folder / filename)

    monkeypatch.setattr(classifier_module, "hf_hub_download", fake_download)
    tagger = WD14Tagger.from_source("SmilingWolf/wd-vit-tagger-v3", cache_dir="/cache")
    assert asked == [
        ("SmilingWolf/wd-vit-tagger-v3", "model.onnx", "/cache"),
        ("SmilingWolf/wd-vit-tagger-v3", "selected_tags.csv", "/cache"),
    ]
    assert [n for n, _ in tagger.tag(IMAGE).characters] == ["rem_(re:zero)"]


def test_repo_id_without_network_is_a_load_error_naming_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(**_: object) -> str:
        raise ConnectionError("no network")

    monkeypatch.setattr(classifier_module, "hf_hub_download", offline)
    source = "model.onnx of classifier repo 'SmilingWolf/wd-vit-tagger-v3'"
    with pytest.raises(ClassifierLoadError, match=f"{source}.*no network"):
        WD14Tagger.from_source("SmilingWolf/wd-vit-tagger-v3")


def test_repo_without_labels_is_a_load_error(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def model_only(*, repo_id: str, filename: str, cache_dir: str | None) -> str:
        if filename != "model.onnx":
            raise FileNotFoundError(f"{repo_id} has no {filename}")
        return str(folder / filename)

    monkeypatch.setattr(classifier_module, "hf_hub_download", model_only)
    with pytest.raises(ClassifierLoadError, match="selected_tags.csv of classifier repo 'someone/model-only'"):
        WD14Tagger.from_source("someone/model-only")
