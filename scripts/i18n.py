"""Manage the translation catalogs with Babel (see core/i18n.py).

python scripts/i18n.py extract   write core/locales/messages.pot from the registered commands and
                                 every t("...") message in the source (Babel's Python extractor)
python scripts/i18n.py update    merge the template into every catalog (pybabel update)
python scripts/i18n.py check     exit 1 listing what is missing or broken in a catalog, or a stale
                                 template
python scripts/i18n.py compile [DIR]  write each catalog as a .mo file under DIR (a new temporary
                                 folder) for gettext tools, with how much is translated (the bot
                                 reads the .po files themselves)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from babel.messages.catalog import Catalog  # noqa: E402
from babel.messages.mofile import write_mo  # noqa: E402
from babel.messages.pofile import read_po, write_po  # noqa: E402

from core.client import command_texts  # noqa: E402
from core.i18n import DOMAIN, LOCALES_DIR, Key, message_texts, problems, read_catalogs  # noqa: E402

TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"


def wanted() -> list[Key]:
    """Every text a catalog must translate: the commands', then the messages'."""
    return [*asyncio.run(command_texts()), *message_texts()]


def extract() -> None:
    template = Catalog(project="animagine-bot", charset="utf-8")
    for context, text in asyncio.run(command_texts()):
        template.add(text, context=context)
    for (context, text), found in message_texts().items():
        template.add(text, context=context, locations=found.locations, auto_comments=found.notes)
    with TEMPLATE.open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=False)
    print(f"wrote {TEMPLATE.relative_to(ROOT)} ({len(template)} messages)")


def update() -> None:
    subprocess.run(
        # Babel's own command line through this interpreter: the venv's pybabel need not be on PATH.
        [
            *(sys.executable, "-m", "babel.messages.frontend", "update", "--no-fuzzy-matching"),
            *("-D", DOMAIN, "-i", str(TEMPLATE), "-d", str(LOCALES_DIR)),
        ],
        check=True,
    )


def check() -> int:
    texts = wanted()
    failed = 0
    with TEMPLATE.open("rb") as handle:
        listed = {(m.context or "", str(m.id)) for m in read_po(handle) if m.id}
    if listed != set(texts):
        print(f"{TEMPLATE.relative_to(ROOT)} is stale: run extract, then update")
        failed += 1
    for language, catalog in read_catalogs().items():
        for problem in problems(catalog, texts):
            print(f"{language}: {problem}")
            failed += 1
    return 1 if failed else 0


def compile_catalogs(target: Path) -> None:
    for language, catalog in read_catalogs().items():
        path = target / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_mo(handle, catalog)
        done = sum(1 for m in catalog if m.id and m.string)
        print(f"{language}: {done} of {sum(1 for m in catalog if m.id)} translated -> {path}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "extract":
        extract()
    elif command == "update":
        update()
    elif command == "check":
        sys.exit(check())
    elif command == "compile":
        compile_catalogs(Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="locales-")))
    else:
        sys.exit(f"unknown command {command!r}: use extract, update, check or compile")
