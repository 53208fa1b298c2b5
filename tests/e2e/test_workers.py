"""End to end with `[workers] backend = "nats"`: the real bot process, the local Discord, a real
NATS server and two GPU worker processes (`python bot.py worker`) on the tiny model."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image

from generation.metadata import parse_infotext, read_png_parameters
from tests.cluster.support import answers, new_namespace, worker_process, workers_config, write_worker_config
from tests.e2e.conftest import World, running_world

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

DEFER = 5
EPHEMERAL = 1 << 6


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(  # type: ignore[override]
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    assert answers("127.0.0.1", 4222), "scripts/nats.sh starts the NATS server the test command needs"
    workers = workers_config("nats://127.0.0.1:4222", new_namespace())
    folder = tmp_path_factory.mktemp("workers")
    section = {"backend": "nats", "nats_url": workers.nats_url, "namespace": workers.namespace}
    async with running_world(request.param, tmp_path_factory.mktemp("bot"), fast_model_dir, workers=section) as world:
        processes = [
            worker_process(write_worker_config(folder, name, fast_model_dir, workers), folder / f"{name}.log")
            for name in ("gpu-a", "gpu-b")
        ]
        for process in processes:
            await process.start()
        try:
            yield world
        finally:
            for process in processes:
                print(process.output()[-2000:])
                assert await process.stop() == 0, process.output()[-3000:]


def _private_text(response) -> str:  # type: ignore[no-untyped-def]
    assert response.data is not None and response.data.get("flags", 0) & EPHEMERAL, response
    return str(response.data["content"])


def _image_done(ix) -> bool:  # type: ignore[no-untyped-def]
    return ix.original is not None and any(a.filename.endswith(".png") for a in ix.original.attachments)


async def test_imagine_goes_through_two_worker_processes(world: World) -> None:
    interactions = []
    for user, seed in ((world.alice, 11), (world.bob, 22), (world.alice, 33), (world.bob, 44)):
        ix = await world.server.invoke(
            user, world.general, "imagine", {"prompt": "1girl, smile", "aspect": "1024x1024", "seed": seed, "steps": 2}
        )
        assert (await ix.wait_response(timeout=3)).type == DEFER
        interactions.append((ix, seed))
    for ix, seed in interactions:
        await ix.wait_for(_image_done, timeout=240)
        assert ix.original is not None
        (attachment,) = ix.original.attachments
        with Image.open(io.BytesIO(attachment.data)) as image:
            assert image.size == (1024, 1024)
        _, _, fields = parse_infotext(read_png_parameters(attachment.data) or "")
        assert fields["Seed"] == str(seed)
    log = world.bot.output()
    assert "sent to worker gpu-a" in log and "sent to worker gpu-b" in log


async def test_workers_shows_each_worker_to_admins_only(world: World) -> None:
    ix = await world.server.invoke(world.mod, world.general, "workers", {})
    text = _private_text(await ix.wait_response(timeout=3))
    assert "2 of 2 online" in text and "gpu-a" in text and "gpu-b" in text
    (workers,) = [c for c in world.server.commands() if c["name"] == "workers"]
    assert int(workers["default_member_permissions"]) == 1 << 5  # Manage Server: hidden from members
    ix = await world.server.invoke(world.alice, world.general, "workers", {})
    assert "Manage Server" in _private_text(await ix.wait_response(timeout=3))
