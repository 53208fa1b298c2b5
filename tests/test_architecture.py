"""The layering rules that import-linter cannot say on its own (its contracts are in pyproject)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from core.client import EXTENSIONS

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "cluster", "cogs", "core", "db", "generation", "jobs", "moderation", "prompt", "quota")
HEAVY = ("torch", "diffusers", "onnxruntime")


@pytest.mark.parametrize("extension", EXTENSIONS)
def test_a_cog_loads_no_torch_diffusers_or_onnxruntime(extension: str) -> None:
    # A fresh interpreter: the test process itself has torch loaded already.
    code = f"import json, sys, {extension}; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_extension_is_a_cog_module() -> None:
    cogs = {f"cogs.{p.stem}" for p in (ROOT / "cogs").glob("*.py") if p.stem != "__init__"}
    assert set(EXTENSIONS) == cogs, "cogs/ holds extensions only; shared Discord code lives in core/"


def test_no_module_import_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES)
    cycles = [
        (module, imported)
        for module in sorted(graph.modules)
        for imported in graph.find_modules_directly_imported_by(module)
        if graph.chain_exists(importer=imported, imported=module)
    ]
    assert cycles == []
