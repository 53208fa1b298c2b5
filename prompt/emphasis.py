"""A1111 emphasis: ``(tag)``, ``[tag]``, ``(tag:1.3)``, escapes and ``BREAK``.

A leaf module: the tag handling, the prompt assembly, the content filter and the text
encoder all read prompts through it, and it imports none of them.
"""

from __future__ import annotations

import re

BREAK = "BREAK"

# The token pattern of A1111's modules/prompt_parser.py, except that the weight must be a
# number (A1111's ``[.\d]+`` also matches ``.`` or ``1.2.3`` and then float() raises); such
# text is read as plain text and the ``)`` as a normal closer, so parsing never fails.
_ATTENTION_RE = re.compile(
    r"""
\\\(|
\\\)|
\\\[|
\\]|
\\\\|
\\|
\(|
\[|
:([+-]?(?:\d+\.?\d*|\.\d+))\)|
\)|
]|
[^\\()\[\]:]+|
:
""",
    re.X,
)
_BREAK_SPLIT_RE = re.compile(r"\s*\bBREAK\b\s*", re.S)
_ROUND = 1.1
_SQUARE = 1 / 1.1


# Kept line for line comparable with A1111's prompt_parser.parse_prompt_attention (so fixes
# upstream can be checked against it); splitting it up would lose that.
def parse_attention(text: str) -> list[tuple[str, float]]:  # noqa: C901
    """Split a prompt into (text, weight) runs with AUTOMATIC1111's semantics.

    ``(x)`` x1.1, ``[x]`` /1.1, ``(x:w)`` xw, nesting multiplies, ``\\(`` ``\\)`` ``\\[`` ``\\]``
    ``\\\\`` are literals, unclosed brackets are closed at the end, neighbouring runs of equal
    weight are merged and ``BREAK`` becomes its own ``("BREAK", -1.0)`` entry.
    """
    res: list[list[str | float]] = []
    round_brackets: list[int] = []
    square_brackets: list[int] = []

    def multiply_range(start: int, multiplier: float) -> None:
        for p in range(start, len(res)):
            res[p][1] = float(res[p][1]) * multiplier

    for m in _ATTENTION_RE.finditer(text):
        token, weight = m.group(0), m.group(1)
        if token.startswith("\\"):
            res.append([token[1:], 1.0])
        elif token == "(":
            round_brackets.append(len(res))
        elif token == "[":
            square_brackets.append(len(res))
        elif weight is not None and round_brackets:
            multiply_range(round_brackets.pop(), float(weight))
        elif token == ")" and round_brackets:
            multiply_range(round_brackets.pop(), _ROUND)
        elif token == "]" and square_brackets:
            multiply_range(square_brackets.pop(), _SQUARE)
        else:
            for i, part in enumerate(_BREAK_SPLIT_RE.split(token)):
                if i > 0:
                    res.append([BREAK, -1.0])
                res.append([part, 1.0])

    for pos in round_brackets:
        multiply_range(pos, _ROUND)
    for pos in square_brackets:
        multiply_range(pos, _SQUARE)

    if not res:
        return [("", 1.0)]
    merged: list[tuple[str, float]] = [(str(res[0][0]), float(res[0][1]))]
    for part, w in res[1:]:
        if float(w) == merged[-1][1]:
            merged[-1] = (merged[-1][0] + str(part), merged[-1][1])
        else:
            merged.append((str(part), float(w)))
    return merged
