"""The output check's minor rule end to end (real bot, local Discord, a test tagger), on both
backends: the bot's own GPU (in-process) and a GPU worker process over NATS. In an age-restricted
channel an image the tagger tags `loli` and rates explicit is withheld, audited and posted to the
mod-log channel; the same tags at rating general are delivered.

The test tagger tags every picture `loli` (0.9); its rating follows the picture's left edge as
the tagger sees it: a portrait image is padded with white to a square (``prepare_image``), so its
edge is white and it is rated `general`; a square image fills the frame and is rated `explicit`.
One database (SQLite): the rule is the same whatever the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from onnx import TensorProto, helper

from db.audit import AuditLog
from db.engine import create_engine, create_sessionmaker
from moderation.audit import AuditRecord
from tests.cluster.support import answers, new_namespace, worker_process, workers_config, write_worker_config
from tests.e2e.conftest import World, running_world
from tests.e2e.pictures import pngs, size
from tests.fakediscord.state import Interaction
from tests.support.tiny_wd14 import labels_beside, save_graph

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

DEFER = 5
SIZE = 32  # the tagger's input
TAGS = ("1girl", "solo", "loli", "smile")
# The outputs for a white left edge (general) and how far a filled frame moves them (explicit).
BASE = [0.95, 0.03, 0.01, 0.01, 0.99, 0.98, 0.9, 0.6]
DELTA = [-0.94, 0.0, 0.09, 0.94, 0.0, 0.0, 0.0, 0.0]
SQUARE, PORTRAIT = "1024x1024", "896x1152"


def edge_tagger(path: Path) -> Path:
    """A WD14-shaped ONNX tagger: `loli` at 0.9 always; `explicit` when the mean of the input's
    leftmost column is 10 or more below white, else `general`."""
    n = len(BASE)
    graph = helper.make_graph(
        [
            helper.make_node("Slice", ["input", "starts", "ends", "axes"], ["edge"]),  # [batch, 32, 1, 3]
            helper.make_node("ReduceMean", ["edge", "edge_axes"], ["mean"], keepdims=0),  # [batch]
            helper.make_node("Sub", ["white", "mean"], ["gap"]),
            helper.make_node("Mul", ["gap", "steepness"], ["scaled"]),
            helper.make_node("Sub", ["scaled", "offset"], ["logit"]),
            helper.make_node("Sigmoid", ["logit"], ["filled"]),
            helper.make_node("Unsqueeze", ["filled", "one"], ["column"]),  # [batch, 1]
            helper.make_node("Mul", ["column", "delta"], ["shift"]),
            helper.make_node("Add", ["shift", "base"], ["output"]),
        ],
        "edge_wd14_tagger",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", n])],
        initializer=[
            helper.make_tensor("starts", TensorProto.INT64, [1], [0]),
            helper.make_tensor("ends", TensorProto.INT64, [1], [1]),
            helper.make_tensor("axes", TensorProto.INT64, [1], [2]),
            helper.make_tensor("edge_axes", TensorProto.INT64, [3], [1, 2, 3]),
            helper.make_tensor("white", TensorProto.FLOAT, [], [255.0]),
            helper.make_tensor("steepness", TensorProto.FLOAT, [], [2.0]),
            helper.make_tensor("offset", TensorProto.FLOAT, [], [10.0]),
            helper.make_tensor("one", TensorProto.INT64, [1], [1]),
            helper.make_tensor("delta", TensorProto.FLOAT, [n], DELTA),
            helper.make_tensor("base", TensorProto.FLOAT, [n], BASE),
        ],
    )
    model = save_graph(graph, path)
    labels_beside(model, TAGS)
    return model


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["in-process", "gpu-worker"])
async def world(  # type: ignore[override]
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    workdir = tmp_path_factory.mktemp("minors")
    tagger = edge_tagger(workdir / "tagger" / "model.onnx").parent
    moderation = {"classifier": "wd14", "classifier_model": str(tagger)}  # minor_check: the default
    if request.param == "in-process":
        async with running_world("sqlite", workdir, fast_model_dir, moderation=moderation) as world:
            yield world
        return
    assert answers("127.0.0.1", 4222), "scripts/nats.sh starts the NATS server the test command needs"
    workers = workers_config("nats://127.0.0.1:4222", new_namespace())
    section = {"backend": "nats", "nats_url": workers.nats_url, "namespace": workers.namespace}
    async with running_world("sqlite", workdir, fast_model_dir, workers=section) as world:
        # The worker runs the tagger where it runs the model; the bot applies the rule.
        config = write_worker_config(workdir / "worker", "gpu-a", fast_model_dir, workers, moderation=moderation)
        process = worker_process(config, workdir / "worker" / "gpu-a.log")
        await process.start()
        try:
            yield world
        finally:
            print(process.output()[-2000:])
            assert await process.stop() == 0, process.output()[-3000:]


def _finished(ix: Interaction) -> bool:
    message = ix.original
    return message is not None and (bool(pngs(ix)) or "withheld" in message.text)


async def _imagine(world: World, aspect: str, seed: int) -> Interaction:
    options = {"prompt": "1girl, smile", "aspect": aspect, "seed": seed, "steps": 1}
    ix = await world.server.invoke(world.alice, world.nsfw, "imagine", options)
    assert (await ix.wait_response(timeout=3)).type == DEFER
    await ix.wait_for(_finished, timeout=240)
    return ix


async def _audit(world: World) -> list[AuditRecord]:
    engine = create_engine(world.url_from_here)
    try:
        return await AuditLog(create_sessionmaker(engine)).recent(world.guild.id, limit=50)
    finally:
        await engine.dispose()


async def _output_checks(world: World, count: int) -> list[AuditRecord]:
    for _ in range(50):  # the audit row is written as the plan is made, just before the post
        rows = [r for r in await _audit(world) if r.kind == "output_check"]
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.1)
    return rows


async def test_loli_and_explicit_is_withheld_audited_and_posted_to_the_modlog(world: World) -> None:
    ix = await world.server.invoke(world.mod, world.general, "mod modlog", {"channel": world.modlog.id})
    assert (await ix.wait_response(timeout=3)).data is not None

    ix = await _imagine(world, SQUARE, seed=5)
    assert ix.original is not None
    assert "withheld" in ix.original.text and not pngs(ix)  # in the age-restricted channel too
    await ix.wait_for(lambda i: bool(i.followups), timeout=10)
    (private,) = ix.followups
    assert private.ephemeral and "sexual content with a minor-coded character" in private.content
    assert "Nothing was counted against your quota." in private.content

    posted = await world.server.wait_for_message(
        lambda m: m.channel_id == world.modlog.id and "minor-coded `loli`" in m.content, timeout=10
    )
    assert f"<@{world.alice.id}>" in posted.content and f"<#{world.nsfw.id}>" in posted.content
    assert "`explicit`" in posted.content and "1girl, smile" in posted.content

    (row,) = await _output_checks(world, 1)
    assert (row.decision, row.code) == ("withhold", "minors")
    assert (row.user_id, row.channel_id) == (world.alice.id, world.nsfw.id)
    assert "minor-coded `loli` (90%) with the rating `explicit`" in row.reason
    assert row.details["minor"]["tag"] == "loli" and row.details["minor"]["confidence"] > 0.85
    assert row.details["scores"]["explicit"] > 0.9


async def test_the_same_tags_at_rating_general_are_delivered(world: World) -> None:
    posts = len(world.server.channel_messages(world.modlog.id))
    ix = await _imagine(world, PORTRAIT, seed=6)
    (png,) = pngs(ix)
    assert size(png) == (896, 1152)
    assert ix.original is not None and "withheld" not in ix.original.text and not ix.followups
    rows = await _output_checks(world, 1)
    assert len(rows) == 1  # only the withheld image of the test before: a delivered one is not an action
    assert len(world.server.channel_messages(world.modlog.id)) == posts
