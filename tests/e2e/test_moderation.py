"""Moderation end to end: /mod permissions, channel rules, content rules, blocklist, mod-log,
output check (withhold / spoiler), audit log, and settings surviving a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from prompt.ratings import Rating
from tests.e2e.conftest import World, running_world
from tests.fakediscord.state import Interaction, Message
from tests.support.tiny_wd14 import constant_rating_model, labels_beside

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MESSAGE = 4


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgresql"])
async def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_model_dir: Path
) -> AsyncIterator[World]:
    workdir = tmp_path_factory.mktemp("modbot")
    # An output check that rates every image `questionable`: above an ordinary channel's limit.
    classifier = constant_rating_model(workdir / "wd14" / "model.onnx", Rating.QUESTIONABLE)
    labels_beside(classifier)  # the output check's minor rule (on by default) reads them
    moderation = {"classifier": "wd14", "classifier_model": str(classifier.parent)}
    async with running_world(request.param, workdir, fast_model_dir, moderation=moderation) as world:
        yield world


async def _ephemeral_text(ix) -> str:  # type: ignore[no-untyped-def]
    response = await ix.wait_response(timeout=3)
    assert response.type == MESSAGE, response
    assert response.data["flags"] & 64, response.data
    return str(response.data["content"])


async def _mod(world: World, command: str, options: dict[str, object], user=None, channel=None) -> str:  # type: ignore[no-untyped-def]
    ix = await world.server.invoke(user or world.mod, channel or world.general, f"mod {command}", options)
    return await _ephemeral_text(ix)


def _message(ix: Interaction) -> Message:
    assert ix.original is not None
    return ix.original


def _done(ix) -> bool:  # type: ignore[no-untyped-def]
    return (
        ix.original is not None
        and not _message(ix).loading
        and "Generating" not in _message(ix).text
        and (any(a.filename.endswith(".png") for a in _message(ix).attachments) or "withheld" in _message(ix).text)
    )


async def test_mod_commands_are_hidden_and_rechecked(world: World) -> None:
    (mod,) = [c for c in world.server.commands() if c["name"] == "mod"]
    assert str(mod["default_member_permissions"]) == str(1 << 4)  # Manage Channels
    assert mod.get("contexts") in (None, [0]) or mod.get("dm_permission") is False
    text = await _mod(world, "show", {}, user=world.alice)
    assert "You need the Manage Channels permission" in text
    text = await _mod(world, "rating", {"scope": "server", "maximum": "general"}, user=world.alice)
    assert "You need the Manage Server permission" in text


async def test_explicit_prompt_refused_in_ordinary_channel_and_posted_to_modlog(world: World) -> None:
    text = await _mod(world, "modlog", {"channel": world.modlog.id})
    assert text == f"Blocked attempts will be posted in <#{world.modlog.id}>."
    ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl, (NUDE:1.3), smile"})
    text = await _ephemeral_text(ix)
    assert "does not allow" in text or "not allowed" in text
    posted = await world.server.wait_for_message(
        lambda m: m.channel_id == world.modlog.id and "Blocked `/imagine`" in m.content, timeout=5
    )
    assert str(world.alice.id) in posted.content


async def test_minor_and_sexual_refused_even_in_age_restricted_channel(world: World) -> None:
    ix = await world.server.invoke(world.alice, world.nsfw, "imagine", {"prompt": "1girl, loli", "rating": "explicit"})
    text = await _ephemeral_text(ix)
    assert "never allowed" in text


async def test_what_members_really_type_is_refused_through_the_bot(world: World) -> None:
    """Issue 24's readings, through /imagine: glued words, other languages, ages."""
    for prompt in ("1girl, nudegirl", "1girl, naked thighhighs", "1girl, 全裸", "1girl, 알몸"):
        ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": prompt})
        assert "does not allow sexual content" in await _ephemeral_text(ix), prompt
    for prompt in ("1girl, 8yo, smile", "1girl, 小学3年生", "1girl, lolii"):
        ix = await world.server.invoke(world.alice, world.nsfw, "imagine", {"prompt": prompt, "rating": "explicit"})
        assert "never allowed" in await _ephemeral_text(ix), prompt


async def test_blocklist_with_aliases(world: World) -> None:
    text = await _mod(world, "block", {"tag": "Long_Hair", "scope": "server"})
    assert "`long_hair` is now blocked" in text
    ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl, longhair"})
    assert "blocked these tags here" in await _ephemeral_text(ix)
    assert "no longer blocked" in await _mod(world, "unblock", {"tag": "long hair", "scope": "server"})


async def test_output_check_withholds_then_spoilers(world: World) -> None:
    ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl", "steps": 1})
    await ix.wait_for(_done, timeout=120)
    assert "withheld" in _message(ix).text and not _message(ix).attachments
    assert "questionable" not in _message(ix).text  # the public message says no more than that
    await ix.wait_for(lambda i: bool(i.followups), timeout=10)
    (private,) = ix.followups
    assert private.ephemeral and "rated it `questionable`" in private.content

    # A spoiler is still a post: above Discord's ceiling (sensitive here) it is withheld anyway.
    await _mod(world, "rating", {"scope": "channel", "over_limit": "spoiler"})
    ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl", "steps": 1})
    await ix.wait_for(_done, timeout=120)
    assert "withheld" in _message(ix).text and not _message(ix).attachments

    # In the age-restricted channel `questionable` is within the limit: posted openly ...
    ix = await world.server.invoke(world.alice, world.nsfw, "imagine", {"prompt": "1girl", "steps": 1})
    await ix.wait_for(_done, timeout=120)
    assert not _message(ix).attachments[0].filename.startswith("SPOILER_")

    # ... until moderators lower that channel's maximum and choose spoilers: then it is blurred,
    # and the gallery does not show it unblurred.
    text = await _mod(
        world, "rating", {"scope": "channel", "maximum": "sensitive", "over_limit": "spoiler"}, channel=world.nsfw
    )
    assert "max `sensitive`" in text
    ix = await world.server.invoke(world.alice, world.nsfw, "imagine", {"prompt": "1girl", "steps": 1})
    await ix.wait_for(_done, timeout=120)
    (attachment,) = _message(ix).attachments
    assert attachment.filename.startswith("SPOILER_")
    assert [item["spoiler"] for item in _message(ix).gallery] == [True]


async def test_server_limit_and_default_apply_and_survive_a_restart(world: World) -> None:
    text = await _mod(world, "rating", {"scope": "server", "maximum": "general", "default": "general"})
    assert "max `general`" in text
    await world.restart_bot()
    ix = await world.server.invoke(world.alice, world.general, "imagine", {"prompt": "1girl", "rating": "sensitive"})
    assert "the limit here is `general`" in await _ephemeral_text(ix)
    shown = await _mod(world, "show", {})
    assert "**Server:** max `general`" in shown
    assert "over-limit images: `spoiler`" in shown  # the channel setting from the earlier test

    # The age-restricted channel is capped by the server's maximum too.
    ix = await world.server.invoke(world.alice, world.nsfw, "imagine", {"prompt": "1girl", "rating": "sensitive"})
    assert "the limit here is `general`" in await _ephemeral_text(ix)

    # Resetting a channel makes it follow the server again.
    text = await _mod(world, "reset", {"scope": "channel"}, channel=world.nsfw)
    assert "now follows the server's rules" in text
    shown = await _mod(world, "show", {}, channel=world.nsfw)
    assert f"**<#{world.nsfw.id}>:** max `not set`, default `not set`, over-limit images: `not set`" in shown


async def test_audit_log_has_requests_refusals_and_policy_changes(world: World) -> None:
    text = await _mod(world, "audit", {"count": 25})
    assert "**policy** changed" in text
    assert "**refusal** refused" in text
    assert "**generation** allowed" in text
    assert "**output_check** withhold" in text or "**output_check** spoiler" in text
