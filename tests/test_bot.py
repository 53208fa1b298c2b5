"""The command line: bad configuration stops the bot at once with exit code 2 and a reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import bot
from tests.support.logging_state import root_logging_kept


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """bot.main sets up the root logger for the process; the tests after these keep pytest's."""
    with root_logging_kept():
        yield


def _config(tmp_path: Path, model: str) -> Path:
    file = tmp_path / "config.toml"
    file.write_text(
        f'[discord]\ntoken = "x"\n[model]\n{model}\n[moderation]\nclassifier = "none"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/bot.db"\n'
    )
    return file


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ('source = "/nowhere/animagine.safetensors"', "[model] source '/nowhere/animagine.safetensors' was not found"),
        ('source = "a/b"\ndevice = "cuda"', "sees no CUDA GPU"),
        ('source = "a/b"\nvae = "/nowhere/vae.safetensors"', "[model] vae '/nowhere/vae.safetensors' does not exist"),
    ],
)
def test_bad_model_settings_stop_the_bot_before_it_connects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str, message: str
) -> None:
    import torch

    if "cuda" in model and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert bot.main(["--config", str(_config(tmp_path, model))]) == 2
    assert message in capsys.readouterr().err


def test_missing_token(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    file = tmp_path / "config.toml"
    file.write_text("[model]\nsource = 'a/b'\n")
    assert bot.main(["--config", str(file)]) == 2
    assert "DISCORD_TOKEN" in capsys.readouterr().err


def test_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bot.main(["--config", str(tmp_path / "nope.toml")]) == 2
    assert "copy config.example.toml" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("model", "code", "line_start", "reason"),
    [
        ("/nowhere/tagger.onnx", 2, "config error: ", "classifier source '/nowhere/tagger.onnx' was not found"),
        (
            "nobody/no-tagger",
            1,
            "error: the output check cannot start: ",
            "'nobody/no-tagger' is not in the Hugging Face cache and HF_HUB_OFFLINE is set",
        ),
    ],
)
def test_an_output_check_that_cannot_load_stops_the_bot(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fast_model_dir: Path,
    model: str,
    code: int,
    line_start: str,
    reason: str,
) -> None:
    file = tmp_path / "config.toml"
    file.write_text(
        f'[discord]\ntoken = "x"\n[model]\nsource = "{fast_model_dir}"\ndevice = "cpu"\n'
        f'[moderation]\nclassifier_model = "{model}"\n[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/bot.db"\n'
        '[metrics]\naddress = ""\n'
    )
    assert bot.main(["--config", str(file)]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [line for line in err.splitlines() if line.startswith(line_start)]
    assert reason in line
    assert 'turn the output check off with [moderation] classifier = "none"' in line


def _local_config(tmp_path: Path, model: str, api_base_url: str = "http://127.0.0.1:1/api/v10") -> Path:
    file = tmp_path / "config.toml"
    file.write_text(
        f'[discord]\ntoken = "x"\napi_base_url = "{api_base_url}"\n[model]\nsource = "{model}"\ndevice = "cpu"\n'
        f'[moderation]\nclassifier = "none"\n[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/bot.db"\n'
        '[metrics]\naddress = ""\n'
    )
    return file


def _error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("error: ")]


def test_an_unreachable_discord_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fast_model_dir: Path
) -> None:
    assert bot.main(["--config", str(_local_config(tmp_path, str(fast_model_dir)))]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith("error: cannot reach Discord at http://127.0.0.1:1/api/v10 (")
    assert "check the network" in line


def test_an_unreachable_hub_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:1")
    assert bot.main(["--config", str(_local_config(tmp_path, "nobody/some-model"))]) == 1
    (line,) = _error_lines(capsys.readouterr().err)
    assert "[model] source 'nobody/some-model' is not downloaded yet" in line
    assert "the Hugging Face Hub at http://127.0.0.1:1 cannot be reached" in line


def test_no_cuda_gpu_is_one_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str], fast_model_dir: Path) -> None:
    bot.main(["--config", str(_local_config(tmp_path, str(fast_model_dir)))])
    warnings = [line for line in capsys.readouterr().err.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "no CUDA GPU: images are made on the CPU and take minutes each" in warnings[0]
