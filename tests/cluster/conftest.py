from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import WorkersConfig
from tests.cluster.support import NatsServer, answers, new_namespace, workers_config


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's NATS server (127.0.0.1:4222), or one of our own where none answers."""
    if answers("127.0.0.1", 4222):
        yield "nats://127.0.0.1:4222"
        return
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def workers(nats_url: str) -> WorkersConfig:
    """[workers] for one test: its own namespace, so tests never see each other's streams."""
    return workers_config(nats_url, new_namespace())


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats-store")
    server.start()
    try:
        yield server
    finally:
        server.stop()
