"""`python bot.py worker` with a NATS server that is not there: one clear line and exit code 2,
not a wait for ever; and the bot with backend = "nats" the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cluster.support import ROOT, free_port


def _run(args: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )


def test_a_worker_without_nats_says_which_address_failed(tmp_path: Path, fast_model_dir: Path) -> None:
    port = free_port()
    config = tmp_path / "worker.toml"
    config.write_text(
        f'[model]\nsource = "{fast_model_dir}"\ndevice = "cpu"\nwarmup = "off"\n'
        f'[workers]\nbackend = "nats"\nnats_url = "nats://127.0.0.1:{port}"\n'
        '[metrics]\naddress = ""\n'  # the default port may be taken by a test running beside this one
        '[moderation]\nclassifier = "none"\n'
    )
    result = _run(["worker"], config)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"cannot connect to NATS at nats://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_command_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    result = _run(["workr"], config)
    assert result.returncode == 2 and "invalid choice: 'workr'" in result.stderr
