"""Latency of the moderation content check, per request (runs before every /imagine defer).

python -m bench.content_filter     -> JSON with p50/p99/max in ms
"""

from __future__ import annotations

import json
import statistics
import time

from moderation.content import ContentFilter
from prompt.tags import TagDatabase

PROMPTS = {
    "short": "1girl, solo, long hair, smile, looking at viewer",
    "long_1500": (
        "1girl, solo, long hair, (looking at viewer:1.2), smile, [blue eyes], school uniform, outdoors, "
        "cherry blossoms, a girl walking home at dusk, n.u.d.e, ｓｋｙ, "
    )
    * 20,
    "leet_1500": "l33t 5p34k, n0 w4y, h3ll0 w0rld, " * 50,
}


def main() -> None:
    started = time.perf_counter()
    content = ContentFilter.load(TagDatabase.load())
    load_s = time.perf_counter() - started
    report: dict[str, object] = {"load_s": round(load_s, 3)}
    for name, base in PROMPTS.items():
        timings = []
        for i in range(200):
            prompt = base[:1480] + f", tag{i}"  # distinct prompts: no cache hits
            start = time.perf_counter()
            content.check(prompt, "nsfw, lowres, clothes", allow_sexual=False)
            timings.append((time.perf_counter() - start) * 1000)
        timings.sort()
        report[name] = {
            "p50_ms": round(statistics.median(timings), 3),
            "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 3),
            "max_ms": round(timings[-1], 3),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
