"""The credentials of [workers] reach NATS: user + password and a token are accepted by a
server that asks for them, and a wrong one is one clear line naming the address."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cluster.connection import connect
from core.config import WorkersConfig
from core.errors import ConfigError
from tests.cluster.support import answers, free_port


@pytest.fixture
def guarded_nats(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A nats-server that asks for the credentials the test names (``--user/--pass`` or ``--auth``)."""
    port = free_port()
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    process = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), *request.param],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not answers("127.0.0.1", port):
        assert time.monotonic() < deadline, "nats-server did not start"
        time.sleep(0.05)
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("guarded_nats", [["--user", "gpu-1", "--pass", "s3cret"]], indirect=True)
async def test_user_and_password(guarded_nats: str) -> None:
    config = WorkersConfig(backend="nats", nats_url=guarded_nats, user="gpu-1", password="s3cret")
    nc = await connect(config, "test")
    assert nc.is_connected
    await nc.close()
    with pytest.raises(ConfigError, match=f"cannot connect to NATS at {guarded_nats}"):
        await connect(dataclasses.replace(config, password="wrong"), "test")


@pytest.mark.parametrize("guarded_nats", [["--auth", "t0ken"]], indirect=True)
async def test_token(guarded_nats: str) -> None:
    config = WorkersConfig(backend="nats", nats_url=guarded_nats, token="t0ken")
    nc = await connect(config, "test")
    assert nc.is_connected
    await nc.close()
    with pytest.raises(ConfigError, match="check that nats-server runs"):
        await connect(dataclasses.replace(config, token="nope"), "test")
