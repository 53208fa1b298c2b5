"""The individual checks of ``python bot.py check``: each looks at one thing the bot needs and
returns a Finding (what was seen and, when something is wrong, how to fix it).

Nothing here changes anything: the database is read, not migrated or created; the model is
looked up in the cache or on the Hub, not downloaded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from core.config import DiscordConfig, ModelConfig, ModerationConfig, WorkersConfig

HUB_TIMEOUT_S = 5.0
NETWORK_TIMEOUT_S = 10.0
# The file of a Hub repo whose presence in the cache says the repo was downloaded.
PIPELINE_FILE = "model_index.json"
CLASSIFIER_FILE = "model.onnx"
LABELS_FILE = "selected_tags.csv"  # moderation.labels.LABELS_FILENAME, without loading numpy here


@dataclass(frozen=True, slots=True)
class Finding:
    name: str  # what was checked: "database", "model", ...
    ok: bool
    message: str
    fix: str = ""


def _ok(name: str, message: str) -> Finding:
    return Finding(name, True, message)


def _bad(name: str, message: str, fix: str) -> Finding:
    return Finding(name, False, message, fix)


# ---- database ----------------------------------------------------------------------------


def _revisions(connection: Any) -> tuple[str | None, str | None, bool]:
    """(this database's revision, the code's head, whether the code knows the former)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from db.migrate import alembic_config

    current = MigrationContext.configure(connection).get_current_revision()
    script = ScriptDirectory.from_config(alembic_config())
    known = current is None or current in {r.revision for r in script.walk_revisions()}
    return current, script.get_current_head(), known


async def check_database(url: str) -> Finding:
    """Reachable, and its migration state: at head, behind (migrated at start) or unknown."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    where = parsed.render_as_string(hide_password=True)
    sqlite_file = parsed.database if parsed.drivername.startswith("sqlite") else None
    if sqlite_file and sqlite_file != ":memory:" and not await asyncio.to_thread(Path(sqlite_file).exists):
        return _ok("database", f"{where}: no file yet; it will be created and migrated at start")
    engine = create_async_engine(url)
    try:
        async with asyncio.timeout(NETWORK_TIMEOUT_S), engine.connect() as connection:
            current, head, known = await connection.run_sync(_revisions)
    except Exception as exc:  # refused, unknown host, bad password, no such database: one line
        return _bad(
            "database",
            f"cannot open {where}: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}",
            "check [database] url (host, port, user, password, database name) and that the server runs",
        )
    finally:
        await engine.dispose()
    if not known:
        return _bad(
            "database",
            f"{where} is at revision {current}, which this version of the bot does not know (a newer version?)",
            "run the version of the bot that migrated it, or restore a backup",
        )
    if current == head:
        return _ok("database", f"{where}: reachable, migrations at head ({head})")
    return _ok("database", f"{where}: reachable, at {current or 'no revision'}; will be migrated at start to {head}")


# ---- Hugging Face Hub ----------------------------------------------------------------------


def hub_status(name: str, key: str, repo_id: str, filename: str, cache_dir: str | None) -> Finding:
    """A repo id: in the local cache, or reachable on the Hub (then downloaded at start)."""
    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.errors import GatedRepoError, OfflineModeIsEnabled, RepositoryNotFoundError

    if isinstance(try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir), str):
        return _ok(name, f"{key} {repo_id!r} is in the Hugging Face cache")
    try:
        HfApi().model_info(repo_id, timeout=HUB_TIMEOUT_S)
    except OfflineModeIsEnabled:
        return _bad(
            name,
            f"{key} {repo_id!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set",
            "unset HF_HUB_OFFLINE so it is downloaded at start, or point the setting at a local copy",
        )
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        return _bad(name, f"{key} {repo_id!r}: {type(exc).__name__} on the Hugging Face Hub", "check the repo id")
    except Exception as exc:  # DNS, refused, timeout, proxy: the operator's network either way
        return _bad(
            name,
            f"{key} {repo_id!r} is not downloaded yet and the Hugging Face Hub at {constants.ENDPOINT} "
            f"cannot be reached ({type(exc).__name__})",
            "check the network, DNS, proxy (HTTPS_PROXY) or HF_ENDPOINT, or point the setting at a local copy",
        )
    return _ok(name, f"{key} {repo_id!r} is on the Hugging Face Hub; it will be downloaded at first start")


def check_model(model: ModelConfig) -> Finding:
    """A local diffusers folder or checkpoint that exists, or a repo id cached or reachable."""
    from core.errors import ModelLoadError
    from generation.sources import SourceKind, classify_source

    try:
        kind = classify_source(model.source)
    except ModelLoadError as exc:
        return _bad("model", str(exc), "set [model] source to a Hub repo id, a diffusers folder or a .safetensors file")
    if kind is SourceKind.HUB:
        return hub_status("model", "[model] source", model.source, PIPELINE_FILE, model.cache_dir or None)
    return _ok("model", f"[model] source {model.source!r} is a {kind.value}")


def check_classifier(moderation: ModerationConfig, cache_dir: str | None = None) -> Finding:
    """The output check's ONNX model: a local file or folder, or a repo id cached or reachable."""
    if moderation.classifier == "none":
        return _ok("output check", '[moderation] classifier = "none": images are posted without an output check')
    source = moderation.classifier_model
    path = Path(source).expanduser()
    fix = 'set [moderation] classifier_model to a WD14 repo id, .onnx file or folder, or classifier = "none"'
    key = "[moderation] classifier_model"
    if path.is_file():
        return _labels_beside(moderation, path.parent) or _ok("output check", f"{key} {source!r} is a file")
    if path.is_dir():
        if (path / CLASSIFIER_FILE).is_file():
            found = _ok("output check", f"{key} {source!r} is a folder with {CLASSIFIER_FILE}")
            return _labels_beside(moderation, path) or found
        return _bad("output check", f"{key} {source!r} is a folder without {CLASSIFIER_FILE}", fix)
    if source.startswith(("/", ".", "~")) or source.endswith(".onnx") or source.count("/") != 1:
        return _bad("output check", f"{key} {source!r} does not exist", fix)
    found = hub_status("output check", key, source, CLASSIFIER_FILE, cache_dir)
    if found.ok:
        return found
    return _bad("output check", found.message, f'{found.fix}; or turn the output check off: classifier = "none"')


def _labels_beside(moderation: ModerationConfig, folder: Path) -> Finding | None:
    """The minor rule (on by default) reads the model's label file beside a local model; a Hub
    repo's is downloaded with it."""
    if not moderation.minor_check or (folder / LABELS_FILE).is_file():
        return None
    return _bad(
        "output check",
        f"[moderation] classifier_model has no {LABELS_FILE} beside {CLASSIFIER_FILE} (the minor rule reads it)",
        f"put the model's {LABELS_FILE} beside it, or turn the minor rule off: [moderation] minor_check = false",
    )


# ---- Discord -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the token logs in as, and the application to invite."""

    name: str
    user_id: int
    application_id: int


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with session.get(url) as response:
        return response.status, await response.json() if response.ok else None


async def check_discord(discord: DiscordConfig) -> tuple[Finding, Identity | None]:
    """GET /users/@me with the token, through [discord] api_base_url."""
    if not discord.token:
        return _bad(
            "discord", "[discord] token is empty", "set it in the config file or the DISCORD_TOKEN environment variable"
        ), None
    base = discord.api_base_url.rstrip("/")
    headers = {"Authorization": f"Bot {discord.token}"}
    timeout = aiohttp.ClientTimeout(total=NETWORK_TIMEOUT_S)
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            status, me = await _get(session, f"{base}/users/@me")
            if me is None:
                return _refused(base, status), None
            _, app = await _get(session, f"{base}/oauth2/applications/@me")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _bad(
            "discord",
            f"cannot reach Discord at {base} ({type(exc).__name__})",
            "check the network and DNS, and [discord] api_base_url",
        ), None
    # A bot made before 2019 may have a user id other than its application id: ask for the latter.
    identity = Identity(str(me["username"]), int(me["id"]), int(app["id"]) if app is not None else int(me["id"]))
    return _ok("discord", f"logged in as {identity.name} ({identity.user_id})"), identity


def _refused(base: str, status: int) -> Finding:
    if status == 401:
        return _bad(
            "discord",
            "the token was refused (401 Unauthorized)",
            "copy the token again from the Developer Portal (your application > Bot > Reset Token) "
            "into [discord] token or DISCORD_TOKEN",
        )
    return _bad("discord", f"{base}/users/@me answered HTTP {status}", "check [discord] api_base_url and the token")


# ---- NATS --------------------------------------------------------------------------------


async def check_nats(workers: WorkersConfig) -> Finding:
    """Connect with the configured credentials, once (no reconnecting), and ask for JetStream."""
    import nats

    from cluster.connection import connect_options

    async def quiet(_exc: Exception) -> None:  # the failure is reported below, once
        return None

    options = {
        **connect_options(workers, "bot-check"),
        "allow_reconnect": False,
        "max_reconnect_attempts": 0,
        "connect_timeout": 3,
        "error_cb": quiet,
    }
    try:
        client = await asyncio.wait_for(nats.connect(**options), NETWORK_TIMEOUT_S)
    except Exception as exc:  # refused, timeout, TLS, authorization: one line with the address
        detail = f": {exc}" if str(exc) else ""
        return _bad(
            "nats",
            f"cannot connect to NATS at {workers.nats_url} ({type(exc).__name__}{detail})",
            "check that nats-server runs and [workers] nats_url and the credentials (user/password, token, "
            "creds_file) match its accounts",
        )
    try:
        await asyncio.wait_for(client.jetstream().account_info(), NETWORK_TIMEOUT_S)
    except Exception as exc:
        return _bad(
            "nats",
            f"NATS at {workers.nats_url} has no JetStream for this user ({type(exc).__name__})",
            "start nats-server with JetStream (-js) and give this account JetStream access",
        )
    finally:
        await client.close()
    return _ok("nats", f"connected to NATS at {workers.nats_url}, JetStream available")
