"""Text folding for tag matching: look-alike characters, lookup keys and leet-speak readings.

``fold_text`` undoes the disguises a prompt can wear (fullwidth letters, invisible characters,
Cyrillic/Greek homoglyphs); the key helpers turn a tag into the forms the lists are matched by.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

# --- look-alike folding ---------------------------------------------------------------------

# Letters of other scripts that render like Latin ones (after NFKD, so accented forms are
# already split into base + mark). Upper case is mapped too; keys are lower-cased later.
_HOMOGLYPHS: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "г": "r", "е": "e", "ё": "e", "з": "3", "и": "u", "к": "k", "м": "m",
    "н": "h", "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ь": "b",
    "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l",
    "ү": "y", "ѵ": "v", "ɡ": "g",
    "А": "A", "В": "B", "Е": "E", "З": "3", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
    "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Ԁ": "D", "Ԛ": "Q",
    "Ԝ": "W", "Ү": "Y", "Ӏ": "I",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "σ": "o", "ς": "c", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
    "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Armenian
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "ա": "w",
    # Latin look-alikes NFKD leaves alone (small capitals, dotless i, stroked letters)
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ʏ": "y", "ɪ": "i", "ɴ": "n", "ʀ": "r", "ʜ": "h",
    "ʟ": "l", "ʙ": "b", "ɢ": "g", "ᴀ": "a", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ᴊ": "j", "ᴋ": "k",
    "ᴍ": "m", "ᴏ": "o", "ᴘ": "p", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ᴢ": "z", "ꜱ": "s",
    "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ħ": "h", "ŧ": "t", "ƒ": "f",
}  # fmt: skip
_HOMOGLYPH_TABLE = str.maketrans(_HOMOGLYPHS)
# Invisible characters that are not format (Cf) characters: Hangul fillers, braille blank.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Kana voicing marks are combining marks too, but they are part of Japanese words.
_KEEP_MARKS = frozenset("\u3099\u309a")


def fold_text(text: str) -> str:
    """Fold look-alike characters to the ASCII letters they imitate (plain ASCII is returned as is).

    ``ｎｕｄｅ``, ``nu\u200bde``, ``nüde``, ``nudе`` (Cyrillic е) all give ``nude``.
    """
    if text.isascii():
        return text
    out: list[str] = []
    for ch in unicodedata.normalize("NFKD", text):
        category = unicodedata.category(ch)
        if category == "Cf" or ch in _INVISIBLE:
            continue
        if category in ("Mn", "Me") and ch not in _KEEP_MARKS:
            continue
        if category == "Cc" and not ch.isspace():
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out).translate(_HOMOGLYPH_TABLE))


# --- keys -----------------------------------------------------------------------------------

_SEP_RE = re.compile(r"[\s_]+")
EDGE_PUNCT_RE = re.compile(r"^[^\w(]+|[^\w)]+$")
"""Punctuation at either end of a tag (emphasis brackets excepted)."""
NON_WORD_RE = re.compile(r"[\W_]+")
"""Everything that is not a letter or a digit."""
WORD_RE = re.compile(r"[^\W_]+")
"""A word: letters and digits."""
HYPHENATED_RE = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")
"""A word with its inner hyphens and apostrophes, as Danbooru spells ``same-sex_bathing``."""
# Digit and symbol substitutions; `1` and `|` are read both as `i` and as `l`.
_LEET_I = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a",
                         "$": "s", "!": "i", "|": "l", "€": "e", "+": "t"})  # fmt: skip
_LEET_L = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "@": "a",
                         "$": "s", "!": "i", "|": "i", "€": "e", "+": "t"})  # fmt: skip
_HAS_LEET_RE = re.compile(r"[0134578@$!|€+]")


def norm_key(text: str) -> str:
    """Lookup key: lower case, runs of spaces/underscores -> one ``_``, none at the ends."""
    return _SEP_RE.sub("_", text.lower()).strip("_")


def compact(text: str) -> str:
    """The key with everything but letters and digits removed (``n.u.d.e`` -> ``nude``)."""
    return NON_WORD_RE.sub("", text.lower())


def variants(text: str) -> Iterator[str]:
    """The text, then its digit/symbol-substituted readings where they differ."""
    yield text
    if _HAS_LEET_RE.search(text):
        for table in (_LEET_I, _LEET_L):
            alt = text.translate(table)
            if alt != text:
                yield alt


def dedupe(items: Iterable[str]) -> tuple[str, ...]:
    """The items in first-seen order, each once."""
    return tuple(dict.fromkeys(items))
