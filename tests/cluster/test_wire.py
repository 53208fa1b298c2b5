"""What travels between the bot and its workers survives the trip, and a malformed or
mistyped message is refused rather than let into the dispatcher's arithmetic."""

from __future__ import annotations

import json

import pytest

from cluster.wire import Control, Event, Hello, ImageInfo, Names, StepReport, WorkOrder
from core.text import Text, t
from jobs.model import RenderedImage
from moderation.scores import MinorScore, RatingScores
from tests.support.requests import sample_request


def test_each_message_round_trips() -> None:
    order = WorkOrder("7-abc", ((7, sample_request(seed=1)), (8, sample_request(seed=2))))
    assert WorkOrder.decode(order.encode()) == order
    hello = Hello("gpu-1", "boot", "busy", "animagine-xl-3.1", "H100", 79.6, 4, 0, (7, 8), 12, 1.5)
    assert Hello.decode(hello.encode()) == hello
    image = RenderedImage(b"png", 832, 1216, 5, "params", RatingScores(0.9, 0.1, 0.0, 0.0))
    event = Event("succeeded", "7-abc", 7, seconds=3.5, images=(ImageInfo.of("7-abc/7/0.png", image),))
    assert Event.decode(event.encode()) == event
    assert event.images[0].image(b"png") == image
    report = StepReport("7-abc", (7, 8), 3, 28, b"\xff\xd8jpeg")
    assert StepReport.decode(report.encode()) == report
    assert Control.decode(Control(cancel=(7,)).encode()) == Control(cancel=(7,))


def test_hello_numbers_are_typed_and_bad_states_refused() -> None:
    data = json.loads(Hello("w", "b", "ready", "m", "g", 1.0, 4, 0).encode())
    data.update(max_batch="4", max_pixels="0", memory_gb="80")
    hello = Hello.decode(json.dumps(data).encode())
    assert (hello.max_batch, hello.max_pixels, hello.memory_gb) == (4, 0, 80.0)
    data["max_batch"] = "many"
    with pytest.raises(ValueError):
        Hello.decode(json.dumps(data).encode())
    data.update(max_batch=4, state="dancing")
    with pytest.raises(ValueError, match="unknown worker state"):
        Hello.decode(json.dumps(data).encode())
    with pytest.raises(ValueError, match="unknown event"):
        Event.decode(b'{"kind": "exploded", "assignment": "a", "job_id": 1}')


def test_every_name_comes_from_the_namespace() -> None:
    names = Names("bot2")
    assert (names.work_stream, names.events_stream, names.results_bucket) == (
        "bot2-work",
        "bot2-events",
        "bot2-results",
    )
    assert names.work("gpu-1", "7-abc") == "bot2.work.gpu-1.7-abc"
    assert names.events("gpu-1", 7) == "bot2.events.gpu-1.7"
    assert names.worker_of(names.progress("gpu-1")) == "gpu-1"


def test_a_failure_travels_as_english_and_as_its_template_and_values() -> None:
    told = t("The job took longer than {seconds} s and was stopped.", seconds="600")
    event = Event.decode(Event.failure("7-abc", 7, "timed out", told).encode())
    assert event.told == "The job took longer than 600 s and was stopped."  # what an older bot shows
    assert event.told_message() == Text("The job took longer than {seconds} s and was stopped.", (("seconds", "600"),))
    plain = Event.decode(Event("failed", "7-abc", 7, recorded="x", told="Plain words.").encode())
    assert plain.told_message() == "Plain words."  # from a worker of an older version


def test_the_minor_coded_label_travels_beside_the_ratings() -> None:
    scores = RatingScores(0.01, 0.02, 0.1, 0.95, MinorScore("loli", 0.9))
    image = RenderedImage(b"png", 832, 1216, 5, "params", scores)
    event = Event("succeeded", "7-abc", 7, images=(ImageInfo.of("7-abc/7/0.png", image),))
    payload = json.loads(event.encode())
    assert payload["images"][0]["scores"] == [0.01, 0.02, 0.1, 0.95]  # still four numbers for older bots
    decoded = Event.decode(event.encode())
    assert decoded == event and decoded.images[0].image(b"png") == image


def test_an_older_worker_s_four_numbers_read_as_no_minor_information() -> None:
    old = {
        "kind": "succeeded",
        "assignment": "7-abc",
        "job_id": 7,
        "images": [{"key": "k", "width": 8, "height": 8, "seed": 1, "infotext": "", "scores": [0.1, 0.2, 0.3, 0.4]}],
    }
    (info,) = Event.decode(json.dumps(old).encode()).images
    assert info.minor is None
    assert info.image(b"png").scores == RatingScores(0.1, 0.2, 0.3, 0.4)
    assert info.image(b"png").scores.minor is None  # type: ignore[union-attr]
