"""Ages below 18 written as a number with an age word, and school grades, in five languages.

``8yo``, ``12 y/o``, ``10 years old``, ``ten-year-old``, ``aged 9``, ``3rd grader``; ``8歳``,
``十歳``, ``小学3年生``, ``中2``, romaji ``hassai``, ``shougaku sannensei``; ``8岁``, ``12歲``,
``初二``, ``三年级``; ``8살``, ``열두 살``,
``12세``, ``초등학교 3학년``. Each one found is reported in the form it was written, as a
minor-coded tag of the prompt: with sexual content it is refused in every channel. An age of 18
or more is an adult (``18yo``, ``20歳``, ``25살``).

Matched on folded text (``fold_text``: full-width digits are ASCII digits by then).
"""

from __future__ import annotations

import re

ADULT = 18

_EN_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17,
}  # fmt: skip
_EN_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
}  # fmt: skip
_CJK_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6,
               "七": 7, "八": 8, "九": 9}  # fmt: skip
# Korean native numbers (``열두 살``), as far as 17. Sino-Korean words before 세 are not read:
# ``이 세 명`` is "these three people".
_KO_NATIVE_UNITS = {"한": 1, "하나": 1, "두": 2, "둘": 2, "세": 3, "셋": 3, "네": 4, "넷": 4, "다섯": 5,
                    "여섯": 6, "일곱": 7, "여덟": 8, "아홉": 9}  # fmt: skip

# Romaji: 8歳 is hassai, 12歳 juunisai (long vowels written or not: junisai, jyuunisai).
# Left out where the word means something else more often: issai (一切 "at all"), sansai (山菜
# "mountain vegetables"), yosai (要塞 "fortress").
_ROMAJI_UNITS = {"ichi": 1, "ni": 2, "yon": 4, "go": 5, "roku": 6, "nana": 7, "shichi": 7, "hachi": 8,
                 "ha": 8, "kyuu": 9, "kyu": 9, "ku": 9, "juu": 10, "ju": 10}  # fmt: skip
_ROMAJI_UNIT = "|".join(sorted(_ROMAJI_UNITS, key=len, reverse=True))
_ROMAJI_AGE_RE = re.compile(
    rf"(?<![a-z])(j[yi]?uu?)?[\s_-]*({_ROMAJI_UNIT}|\d{{1,2}})[\s_-]*s?sai(?![a-z])",
    re.IGNORECASE,
)
_ROMAJI_SCHOOL_RE = re.compile(
    r"\bsh[o]u?gaku[\s_-]*(?:(?:ichi|ni|san|yon|go|roku)[\s_-]*nensei|sei)\b"
    r"|\bch[u]u?gaku[\s_-]*(?:(?:ichi|ni|san)[\s_-]*nensei|sei)\b",
    re.IGNORECASE,
)

_EN_NUMBER = r"\d{1,3}|" + "|".join(sorted(_EN_NUMBERS, key=len, reverse=True))
_EN_AGE_RE = re.compile(
    rf"(?<![\w.])({_EN_NUMBER})(?:\s*|[-_])"
    # "ten years" alone is a span of time ("ten years later"), not an age.
    r"(?:yo|y/o|y\.o\.?|yrs?[\s_-]*olds?|years?[\s_-]*olds?|yearolds?)(?![a-z])"
    rf"|\bage[ds]?[\s_:=]*({_EN_NUMBER})(?![\w.])",
    re.IGNORECASE,
)
_EN_GRADE_RE = re.compile(
    rf"(?<![\w.])(\d{{1,2}}(?:st|nd|rd|th)|{'|'.join(_EN_ORDINALS)})[\s_-]*grader?s?\b"
    r"|\bgrade[\s_-]*(\d{1,2})(?![\w.])",
    re.IGNORECASE,
)
_CJK_NUMBER = r"\d{1,3}|[〇零一二两兩三四五六七八九十]{1,3}"
# Japanese 歳/才/さい, Chinese 岁/歲 (周岁, 週歲), Korean 세/살 after digits.
_CJK_AGE_RE = re.compile(rf"({_CJK_NUMBER})\s*(?:歳|才|さい|サイ|周岁|週歲|周歲|岁|歲|세|살)")
_KO_NATIVE_RE = re.compile(r"(열)?\s*(" + "|".join(sorted(_KO_NATIVE_UNITS, key=len, reverse=True)) + r")?\s*살")
# School years: 小学3年生, 小3, 6年生 (4th-6th years are elementary), 中2, 初二, 三年级, 초등학교 3학년,
# 초3, 중2.
_SCHOOL_RE = re.compile(
    # 小三 alone is Chinese slang for a mistress, so the short form stops at 小二 and 小四-小六.
    r"小学?校?\s*[1-6一二三四五六]\s*年|小[1-6一二四五六](?![\d一二三四五六七八九十])"
    r"|中学?校?\s*[1-3一二三]\s*年|(?<!高)中[1-3一二三](?![\d一二三四五六七八九十病])"
    r"|初[一二三](?![\d一二三四五六七八九十])|小學\s*[1-6一二三四五六]\s*年"
    r"|[1-6一二三四五六]\s*年[级級]|(?<![\d一二三四五六七八九十])[4-6四五六]\s*年生"  # 1-3年生: any school
    r"|초등?학?교?\s*[1-6]\s*학년|초[1-6](?!\d)|중학?교?\s*[1-3]\s*학년|중[1-3](?![\d병])"
)


def _cjk_value(text: str) -> int | None:
    """``12``, ``十二``, ``二十``, ``十`` -> their value."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        return int("".join(str(_CJK_DIGITS[c]) for c in text)) if all(c in _CJK_DIGITS for c in text) else None
    tens, _, units = text.partition("十")
    high = _CJK_DIGITS.get(tens, 1) if tens else 1
    low = _CJK_DIGITS.get(units, 0) if units else 0
    return high * 10 + low


def _en_value(text: str) -> int:
    lowered = text.lower()
    return int(lowered) if lowered.isdigit() else _EN_NUMBERS[lowered]


# Every pattern below needs one of these: most tags have none and are passed at once.
_MAYBE_RE = re.compile(r"[^\x00-\x7f]|\d|y(?:ear|rs?\b|o\b|/o|\.o)|age|grade|sai|nensei|gakusei", re.IGNORECASE)


def minor_ages(text: str) -> list[str]:
    """The ages below 18 and the school years written in ``text``, as written."""
    if not _MAYBE_RE.search(text):
        return []
    found: list[str] = []
    for match in _EN_AGE_RE.finditer(text):
        number = match.group(1) or match.group(2)
        if _en_value(number) < ADULT:
            found.append(match.group(0))
    found += [m.group(0) for m in _EN_GRADE_RE.finditer(text) if _grade(m) is not None]
    found += [m.group(0) for m in _ROMAJI_AGE_RE.finditer(text) if _romaji_minor(m)]
    found += [m.group(0) for m in _ROMAJI_SCHOOL_RE.finditer(text)]
    if text.isascii():
        return found
    for match in _CJK_AGE_RE.finditer(text):
        value = _cjk_value(match.group(1))
        if value is not None and value < ADULT:
            found.append(match.group(0))
    found += [m.group(0) for m in _KO_NATIVE_RE.finditer(text) if m.group(1) or m.group(2)]
    found += [m.group(0) for m in _SCHOOL_RE.finditer(text)]
    return found


def _grade(match: re.Match[str]) -> int | None:
    """School grades 1-12 are children's (a 12th grader is 17 or 18)."""
    word = (match.group(1) or match.group(2) or "").lower()
    digits = "".join(c for c in word if c.isdigit())
    value = int(digits) if digits else _EN_ORDINALS.get(word)
    return value if value is not None and 1 <= value <= 12 else None


def _romaji_minor(match: re.Match[str]) -> bool:
    """``hassai`` (8), ``juuni-sai`` (12), ``jussai`` (10), ``8sai``."""
    unit = match.group(2).lower()
    value = int(unit) if unit.isdigit() else _ROMAJI_UNITS[unit]
    return (10 if match.group(1) else 0) + value < ADULT
