"""The production loader on the three sources, for real, with tiny random weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler

from core.config import ModelConfig
from core.errors import ModelLoadError
from generation.loader import FP16_SAFE_VAE, SourceKind, classify_source, load_pipeline, resolve_dtype, resolve_vae
from generation.metadata import file_short_hash
from tests.support.single_file import export_single_file


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def reference(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    return load_pipeline(ModelConfig(source=str(tiny_model_dir), device="cpu"))


def test_folder_source(reference) -> None:  # type: ignore[no-untyped-def]
    assert reference.source_kind is SourceKind.FOLDER
    assert isinstance(reference.pipeline.scheduler, EulerAncestralDiscreteScheduler)
    assert reference.device == torch.device("cpu")
    assert reference.dtype == torch.float32
    assert reference.pipeline.unet.dtype == torch.float32
    assert reference.short_hash is None


def test_single_file_source(reference, tiny_model_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    file = export_single_file(reference.pipeline, tmp_path / "animagine-tiny.safetensors")
    model = load_pipeline(ModelConfig(source=str(file), device="cpu", single_file_config=str(tiny_model_dir)))
    assert model.source_kind is SourceKind.SINGLE_FILE
    assert isinstance(model.pipeline.scheduler, EulerAncestralDiscreteScheduler)
    assert model.short_hash == file_short_hash(file)
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        assert _same_weights(getattr(model.pipeline, name), getattr(reference.pipeline, name)), name


def test_hub_repo_id_from_the_local_cache(reference, tiny_model_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The Hub cache layout: models--org--name/{refs/main, snapshots/<commit>/...}
    commit = "0" * 40
    repo = tmp_path / "hub" / "models--cagliostrolab--animagine-xl-3.1"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    model = load_pipeline(
        ModelConfig(source="cagliostrolab/animagine-xl-3.1", device="cpu", cache_dir=str(tmp_path / "hub"))
    )
    assert model.source_kind is SourceKind.HUB
    assert _same_weights(model.pipeline.unet, reference.pipeline.unet)


def test_hub_repo_id_missing_offline_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="could not load \\[model\\] source 'someone/missing-model'"):
        load_pipeline(ModelConfig(source="someone/missing-model", device="cpu", cache_dir=str(tmp_path)))


def test_separate_vae_replaces_the_pipeline_vae(reference, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(123)
    vae = AutoencoderKL.from_config(reference.pipeline.vae.config)
    vae.save_pretrained(tmp_path / "vae")
    model = load_pipeline(
        ModelConfig(source=str(Path(reference.pipeline.config._name_or_path)), device="cpu", vae=str(tmp_path / "vae"))
    )
    assert _same_weights(model.pipeline.vae, vae)
    assert not _same_weights(model.pipeline.vae, reference.pipeline.vae)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/nowhere/model.safetensors", "was not found"),
        ("./relative/folder", "was not found"),
        ("not a repo id", "was not found"),
    ],
)
def test_unusable_sources_are_explained(source: str, message: str) -> None:
    with pytest.raises(ModelLoadError, match=message):
        classify_source(source)


def test_folder_without_model_index_and_wrong_file_type(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="without model_index.json"):
        classify_source(str(tmp_path))
    text = tmp_path / "model.txt"
    text.write_text("x")
    with pytest.raises(ModelLoadError, match="not a .safetensors"):
        classify_source(str(text))


def test_dtype_resolution() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("auto", cuda) == torch.float16
    assert resolve_dtype("bfloat16", cuda) == torch.bfloat16
    with pytest.raises(ModelLoadError, match="float16' is not supported on the CPU"):
        resolve_dtype("float16", cpu)


def test_vae_auto_is_the_fp16_safe_one_exactly_when_running_fp16_on_cuda() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_vae("auto", cuda, torch.float16) == FP16_SAFE_VAE == "madebyollin/sdxl-vae-fp16-fix"
    # bfloat16 has float32's range (no overflow, no upcast); the CPU runs float32.
    assert resolve_vae("auto", cuda, torch.bfloat16) == ""
    assert resolve_vae("auto", cpu, torch.float32) == ""
    assert resolve_vae("", cuda, torch.float16) == ""
    assert resolve_vae("/models/vae", cpu, torch.float32) == "/models/vae"


def test_an_unloadable_vae_is_explained(reference, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "vae"
    empty.mkdir()
    source = str(Path(reference.pipeline.config._name_or_path))
    with pytest.raises(ModelLoadError, match=r"could not load \[model\] vae .*or to \"\" to use the model's own"):
        load_pipeline(ModelConfig(source=source, device="cpu", vae=str(empty)))


def test_cuda_requested_without_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelLoadError, match="sees no CUDA GPU"):
        load_pipeline(ModelConfig(source="cagliostrolab/animagine-xl-3.1", device="cuda"))
