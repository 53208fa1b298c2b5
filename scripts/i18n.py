"""Manage the translation catalogs with Babel (see core/i18n.py).

python scripts/i18n.py extract   write core/locales/messages.pot from the registered commands
python scripts/i18n.py update    merge the template into every catalog (pybabel update)
python scripts/i18n.py check     exit 1 listing what is missing or broken in a catalog
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from babel.messages.catalog import Catalog  # noqa: E402
from babel.messages.pofile import write_po  # noqa: E402

from core.client import command_texts  # noqa: E402
from core.i18n import DOMAIN, LOCALES_DIR, problems, read_catalogs  # noqa: E402

TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"


def extract() -> None:
    template = Catalog(project="animagine-bot", charset="utf-8")
    for context, text in asyncio.run(command_texts()):
        template.add(text, context=context)
    with TEMPLATE.open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=False)
    print(f"wrote {TEMPLATE.relative_to(ROOT)} ({len(template)} messages)")


def update() -> None:
    subprocess.run(
        ["pybabel", "update", "-i", str(TEMPLATE), "-d", str(LOCALES_DIR), "-D", DOMAIN, "--no-fuzzy-matching"],
        check=True,
    )


def check() -> int:
    wanted = asyncio.run(command_texts())
    failed = 0
    for language, catalog in read_catalogs().items():
        for problem in problems(catalog, wanted):
            print(f"{language}: {problem}")
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "extract":
        extract()
    elif command == "update":
        update()
    elif command == "check":
        sys.exit(check())
    else:
        sys.exit(f"unknown command {command!r}: use extract, update or check")
