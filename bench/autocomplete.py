"""Autocomplete latency over the vendored Danbooru tags: ``python -m bench.autocomplete``.

Prints JSON: load times, then p50/p99/max per keystroke in milliseconds, overall and per
query kind (1-4 typed characters, alias prefixes, prompts near or over Discord's 100-char
limit). Queries are drawn from the data itself, weighted by post count like real typing.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from bench.stats import percentile
from prompt.autocomplete import TagIndex
from prompt.tags import DEFAULT_TAGS_PATH, TagDatabase, TagInfo


def _summary(values: list[float]) -> dict[str, float | int]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.50), 4),
        "p99_ms": round(percentile(values, 0.99), 4),
        "max_ms": round(max(values), 4),
        "mean_ms": round(statistics.fmean(values), 4),
    }


def _queries(tags: list[TagInfo], count: int, rng: random.Random) -> dict[str, list[str]]:
    popular = tags[:5000]
    weights = [t.post_count for t in popular]
    with_aliases = [t for t in tags[:20000] if t.aliases]
    kinds: dict[str, list[str]] = {f"prefix_{n}": [] for n in (1, 2, 3, 4)}
    kinds.update(alias=[], prompt_near_limit=[], prompt_over_limit=[])
    for _ in range(count):
        for n in (1, 2, 3, 4):
            tag = rng.choices(popular, weights)[0].name.replace("_", " ")
            kinds[f"prefix_{n}"].append(tag[:n])
        alias = rng.choice(rng.choice(with_aliases).aliases)
        kinds["alias"].append(alias[: rng.randint(2, max(2, len(alias)))])
        head = ", ".join(t.name.replace("_", " ") for t in rng.choices(popular, weights, k=12))
        fragment = rng.choice(popular).name.replace("_", " ")[: rng.randint(1, 4)]
        kinds["prompt_near_limit"].append(head[: rng.randint(60, 95)] + ", " + fragment)
        kinds["prompt_over_limit"].append(head + ", " + head + ", " + fragment)
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--csv", type=Path, default=DEFAULT_TAGS_PATH)
    parser.add_argument("--queries", type=int, default=2000, help="queries per kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    start = time.perf_counter()
    db = TagDatabase.load(args.csv)
    loaded = time.perf_counter()
    index = TagIndex.from_database(db)
    built = time.perf_counter()

    kinds = _queries(list(db), args.queries, random.Random(args.seed))
    per_kind: dict[str, list[float]] = {}
    choices_returned = 0
    for kind, queries in kinds.items():
        timings = per_kind.setdefault(kind, [])
        for text in queries:
            t0 = time.perf_counter()
            choices = index.complete(text)
            timings.append((time.perf_counter() - t0) * 1000)
            choices_returned += len(choices)
    every = [t for values in per_kind.values() for t in values]
    print(
        json.dumps(
            {
                "tags": len(db),
                "index_keys": len(index),
                "load_db_s": round(loaded - start, 3),
                "build_index_s": round(built - loaded, 3),
                "queries": len(every),
                "mean_choices": round(choices_returned / len(every), 2),
                **{k: v for k, v in _summary(every).items() if k != "n"},
                "by_kind": {kind: _summary(values) for kind, values in per_kind.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
