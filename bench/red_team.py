"""The content rules against the project's own red-team sets: ``python -m bench.red_team``.

``bench/red_team/adversarial.jsonl`` holds prompts (and image verdicts) that must be refused
(withheld), ``harmless.jsonl`` ones that must be allowed (delivered); each line names its kind,
language, channel (``ordinary`` or ``age_restricted``) and rating. A prompt is judged by
``ContentFilter.check`` as the gate calls it: ``allow_sexual`` in an age-restricted channel, and
a questionable or explicit rating there is sexual context. An ``image`` line is what the WD14
tagger saw (rating scores, tag confidences); it is judged by the output check's
``plan_delivery`` with the default minor rule, under the channel's default rules.

Prints JSON: leaks per kind and language (with the leaked lines), false refusals (with the
refused lines), and the prompt check's time per prompt (milliseconds, negative prompt included):
over the sets' prompts with a fresh filter, and over distinct prompts of 1,500 characters, made
of the harmless set's tags (which repeat, as members' tags do) or of Danbooru tags drawn from the
whole tag data (almost none seen before: the cold case).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from moderation.content import ContentFilter
from moderation.minor_labels import minor_tag_names
from moderation.output_check import plan_delivery
from moderation.policy import PolicySettings, effective_rules
from moderation.scores import MinorScore, RatingScores
from prompt.tags import TagDatabase

SETS_DIR = Path(__file__).resolve().parent / "red_team"
_SEXUAL_RATINGS = ("questionable", "explicit")
_LONG = 1500


def read_set(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def refused(content: ContentFilter, item: dict[str, Any], minors: frozenset[str]) -> bool:
    """Whether the rules refuse (or withhold) one line of a set."""
    age_restricted = item["channel"] == "age_restricted"
    if item["kind"] == "image":
        return _withheld(item, age_restricted, minors)
    sexual_context = age_restricted and item.get("rating") in _SEXUAL_RATINGS
    verdict = content.check(
        item["prompt"], item.get("negative", ""), allow_sexual=age_restricted, sexual_context=sexual_context
    )
    return not verdict.allowed


def _withheld(item: dict[str, Any], age_restricted: bool, minors: frozenset[str]) -> bool:
    s = item["scores"]
    coded = [(tag, float(c)) for tag, c in item.get("tags", {}).items() if tag in minors]
    minor = MinorScore(*max(coded, key=lambda tc: tc[1])) if coded else None
    scores = RatingScores(s["general"], s["sensitive"], s["questionable"], s["explicit"], minor=minor)
    rules = effective_rules(age_restricted=age_restricted, server=PolicySettings(), channel=PolicySettings())
    return bool(plan_delivery(rules, [scores]).withheld)


def _share(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def _percentiles(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 3),
        "p99_ms": round(ordered[max(int(len(ordered) * 0.99) - 1, 0)], 3),
        "max_ms": round(ordered[-1], 3),
    }


def _timed_checks(content: ContentFilter, prompts: list[tuple[str, str]]) -> list[float]:
    timings = []
    for prompt, negative in prompts:
        start = time.perf_counter()
        content.check(prompt, negative, allow_sexual=False)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def _long_prompts(texts: list[str], count: int, seed: int) -> list[tuple[str, str]]:
    """``count`` distinct prompts of 1,500 characters, each made of ``texts`` drawn at random."""
    rng = random.Random(seed)
    prompts = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p) + 2 for p in parts) < _LONG:
            parts.append(rng.choice(texts))
        prompts.append((", ".join(parts)[:_LONG], "lowres, bad anatomy, worst quality"))
    return prompts


def _timings_1500(harmless: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """Two cases: prompts of the harmless set's units, which repeat from prompt to prompt as
    members' tags do (``1girl``, ``long hair``); and prompts of Danbooru tags drawn from all
    140,000, which a fresh filter has almost never seen (each unit is read afresh)."""
    db = TagDatabase.load()
    texts = [item["prompt"] for item in harmless if item["kind"] != "image"]
    units = [unit.strip() for text in texts for unit in text.split(",") if unit.strip()]
    tags = [info.prompt_form for info in db]
    return {
        "members_tags": _percentiles(_timed_checks(ContentFilter.load(db), _long_prompts(units, count, 1))),
        "unseen_danbooru_tags": _percentiles(_timed_checks(ContentFilter.load(db), _long_prompts(tags, count, 2))),
    }


def _report(name: str, items: list[dict[str, Any]], wrong: list[dict[str, Any]], *, leaks: bool) -> dict[str, Any]:
    label = "leaks" if leaks else "false_refusals"
    return {
        "n": len(items),
        label: len(wrong),
        f"{label}_percent": _share(len(wrong), len(items)),
        "n_by_kind": dict(Counter(i["kind"] for i in items)),
        "n_by_lang": dict(Counter(i["lang"] for i in items)),
        f"{label}_by_kind": dict(Counter(i["kind"] for i in wrong)),
        f"{label}_by_lang": dict(Counter(i["lang"] for i in wrong)),
        "lines": [{k: i.get(k) for k in ("kind", "lang", "channel", "rating", "prompt", "note")} for i in wrong],
    }


def main(sets_dir: Path = SETS_DIR, long_prompts: int = 300) -> dict[str, Any]:
    started = time.perf_counter()
    content = ContentFilter.load(TagDatabase.load())
    load_s = time.perf_counter() - started
    minors = minor_tag_names()
    adversarial = read_set(sets_dir / "adversarial.jsonl")
    harmless = read_set(sets_dir / "harmless.jsonl")
    leaked = [item for item in adversarial if not refused(content, item, minors)]
    false = [item for item in harmless if refused(content, item, minors)]
    prompts = [(i["prompt"], i.get("negative", "")) for i in (*adversarial, *harmless) if i["kind"] != "image"]
    fresh = ContentFilter.load(TagDatabase.load())  # nothing cached from the runs above
    return {
        "load_s": round(load_s, 3),
        "adversarial": _report("adversarial", adversarial, leaked, leaks=True),
        "harmless": _report("harmless", harmless, false, leaks=False),
        "check_sets": _percentiles(_timed_checks(fresh, prompts)),
        "check_1500_chars": _timings_1500(harmless, long_prompts),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", type=Path, default=SETS_DIR)
    parser.add_argument("--long-prompts", type=int, default=300)
    args = parser.parse_args()
    print(json.dumps(main(args.sets, args.long_prompts), indent=2, ensure_ascii=False))
