"""The command line: bad configuration stops the bot at once with exit code 2 and a reason."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import bot


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """bot.main sets up the root logger for the process; the tests after these keep pytest's."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


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
    ("model", "reason"),
    [
        ("/nowhere/tagger.onnx", "classifier source '/nowhere/tagger.onnx' was not found"),
        ("nobody/no-tagger", "could not get model.onnx of classifier repo 'nobody/no-tagger'"),
    ],
)
def test_an_output_check_that_cannot_load_stops_the_bot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fast_model_dir: Path, model: str, reason: str
) -> None:
    file = tmp_path / "config.toml"
    file.write_text(
        f'[discord]\ntoken = "x"\n[model]\nsource = "{fast_model_dir}"\ndevice = "cpu"\n'
        f'[moderation]\nclassifier_model = "{model}"\n[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/bot.db"\n'
        '[metrics]\naddress = ""\n'
    )
    assert bot.main(["--config", str(file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert reason in err[0]
    assert 'turn the output check off with [moderation] classifier = "none"' in err[0]
