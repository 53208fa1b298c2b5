"""The benchmarks' small configurations run here (CI has no GPU) and print every field."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bench import burst, generation, queue_overhead
from bench import tagger as tagger_bench


def test_generation_benchmark_small_config_has_every_field() -> None:
    result = generation.main(config="small", images=1, size=64, steps=1)
    json.dumps(result)
    assert result["config"] == "small-cpu"
    assert result["ours_speedups"][0] == "sdpa" and result["ours_warmup_s"] >= 0
    assert set(result["stock"]) == {"seconds_per_image", "images_per_minute", "peak_gpu_gib"}
    assert set(result["ours"]) == {"batch_1", "batch_4", "batch_8"}
    for run in result["ours"].values():
        assert run["seconds_per_image"] > 0 and run["images_per_minute"] > 0
    assert set(result["ratios"]) == {f"batch_{b}_images_per_minute_vs_stock" for b in (1, 4, 8)}


def test_queue_overhead_benchmark_runs() -> None:
    result = asyncio.run(queue_overhead.main(jobs=50, users=10, measured=5, seed=1))
    json.dumps(result)
    assert result["scheduler"]["position"]["n"] == 2000
    assert result["accept_to_worker"]["accept_to_worker"]["n"] == 5


def test_burst_benchmark_small_config_has_every_field(fast_model_dir: Path) -> None:
    result = asyncio.run(burst.run_burst("sqlite", 12, "imagine", 2, fast_model_dir))
    json.dumps(result)
    assert (result["n"], result["servers"], result["within_3s"]) == (12, 2, 12)
    assert result["outcomes"] == {"queued": 12} and result["jobs_recorded"] == 12 and result["nothing_lost"]
    assert set(result["ack_latency"]) == {"n", "p50_s", "p99_s", "max_s"}
    assert set(result["cpu_s"]) == {"bot_event_loop", "bot", "local_discord"}


def test_workers_benchmark_small_config_has_every_field() -> None:
    from bench import workers

    result = asyncio.run(workers.main(images=2, size=256, steps=1, queued=20, nats="nats://127.0.0.1:4222"))
    json.dumps(result)
    throughput = result["throughput"]
    assert throughput["one_worker_images_per_minute"] > 0 and throughput["two_workers_images_per_minute"] > 0
    assert throughput["two_vs_one"] > 0
    assert result["dispatch_overhead"]["n"] == 18  # every job after each worker's first
    assert set(result["dispatch_overhead"]) == {"queued", "workers", "n", "p50_ms", "p99_ms", "max_ms"}


def test_tagger_benchmark_small_config_has_every_field() -> None:
    result = tagger_bench.main(config="small", runs=2, warmup=0, image_size=256)
    json.dumps(result)
    assert set(result["models"]) == {"vit", "tiny"}
    vit = result["models"]["vit"]
    assert (vit["input_size"], vit["labels"]) == (tagger_bench.SMALL.size, tagger_bench.SMALL.labels)
    for model in result["models"].values():
        assert set(model["tag_ms"]) == {"median", "p90"} and model["tag_ms"]["median"] > 0
        assert set(model["prepare_ms"]) == {"median", "p90"}
