"""The output check's minor rule: the delivery plan (a minor-coded label with a sexual rating is
withheld in every channel), its audit and mod-log post, its thresholds, and the classifier that
reads the minor-coded labels from a tiny WD14 tagger in the same ONNX pass as the ratings."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from moderation.audit import RefusalReason
from moderation.classifier import ClassifierLoadError, WD14Classifier, load_classifier
from moderation.content import ContentFilter
from moderation.gate import BlockedAttempt
from moderation.implications import Implications
from moderation.labels import TagLabels
from moderation.minor_labels import MinorLabels, minor_tag_names
from moderation.output_check import MinorRule, OutputCheck, Shown, Withheld, plan_delivery
from moderation.policy import ChannelRules, OverLimitAction
from moderation.scores import MinorScore, RatingScores
from prompt.ratings import Rating
from prompt.tags import TagCategory, TagDatabase
from tests.support.audit import RecordingAudit
from tests.support.requests import sample_request
from tests.support.tiny_wd14 import constant_rating_model, offline_hub_snapshot, tiny_tagger

LOLI = MinorScore("loli", 0.9)
EXPLICIT_LOLI = RatingScores(0.01, 0.02, 0.1, 0.95, LOLI)
GENERAL_LOLI = RatingScores(0.95, 0.04, 0.01, 0.01, LOLI)
QUESTIONABLE_LOLI = RatingScores(0.05, 0.1, 0.8, 0.05, LOLI)
EXPLICIT_ADULT = RatingScores(0.01, 0.02, 0.1, 0.95, MinorScore("child", 0.02))


def rules(max_rating: Rating, action: OverLimitAction = OverLimitAction.WITHHOLD, *, nsfw: bool) -> ChannelRules:
    return ChannelRules(
        age_restricted=nsfw, max_rating=max_rating, default_rating=Rating.GENERAL, over_limit_action=action
    )


AFTER_DARK = rules(Rating.EXPLICIT, nsfw=True)


# --- the plan -----------------------------------------------------------------------------------


def test_loli_and_explicit_is_withheld_in_an_age_restricted_channel() -> None:
    plan = plan_delivery(AFTER_DARK, [EXPLICIT_LOLI])
    assert plan.shown == () and plan.withheld == (Withheld(0, Rating.EXPLICIT, LOLI),)
    assert plan.refund
    assert plan.failure_reason == "withheld by the output check (minor-coded loli (0.90), rated explicit)"


def test_the_same_tags_at_rating_general_are_delivered() -> None:
    plan = plan_delivery(AFTER_DARK, [GENERAL_LOLI])
    assert plan.shown == (Shown(0, False),) and plan.withheld == ()


def test_an_adult_explicit_image_is_delivered_where_explicit_is_allowed() -> None:
    assert plan_delivery(AFTER_DARK, [EXPLICIT_ADULT]).shown == (Shown(0, False),)
    assert plan_delivery(AFTER_DARK, [RatingScores(0.01, 0.02, 0.1, 0.95)]).shown == (Shown(0, False),)  # no minor info


def test_only_the_flagged_image_of_a_job_is_withheld() -> None:
    plan = plan_delivery(AFTER_DARK, [EXPLICIT_ADULT, QUESTIONABLE_LOLI])
    assert plan.shown == (Shown(0, False),)
    assert plan.withheld == (Withheld(1, Rating.QUESTIONABLE, LOLI),) and not plan.refund


def test_a_spoiler_channel_still_withholds() -> None:
    spoilers = rules(Rating.SENSITIVE, OverLimitAction.SPOILER, nsfw=True)
    plan = plan_delivery(spoilers, [QUESTIONABLE_LOLI])
    assert plan.withheld == (Withheld(0, Rating.QUESTIONABLE, LOLI),) and not plan.any_spoiler
    # Without the minor-coded label the moderators' spoiler applies.
    assert plan_delivery(spoilers, [RatingScores(0.05, 0.1, 0.8, 0.05)]).shown == (Shown(0, True),)


def test_the_rule_applies_in_ordinary_channels_too_and_can_be_turned_off() -> None:
    ordinary = rules(Rating.SENSITIVE, OverLimitAction.SPOILER, nsfw=False)
    assert plan_delivery(ordinary, [EXPLICIT_LOLI]).withheld[0].minor == LOLI
    off = plan_delivery(AFTER_DARK, [EXPLICIT_LOLI], minor_rule=None)
    assert off.shown == (Shown(0, False),)


def test_thresholds() -> None:
    weak = RatingScores(0.01, 0.02, 0.1, 0.95, MinorScore("child", 0.3))
    assert plan_delivery(AFTER_DARK, [weak]).shown  # below the default 0.35
    assert plan_delivery(AFTER_DARK, [weak], minor_rule=MinorRule(tag_threshold=0.3)).withheld
    at = RatingScores(0.01, 0.02, 0.1, 0.95, MinorScore("child", 0.35))
    assert plan_delivery(AFTER_DARK, [at]).withheld  # "at or above"

    # Rated sensitive, but questionable + explicit reach the sexual threshold: sexual enough.
    leaning = RatingScores(0.1, 0.6, 0.25, 0.15, LOLI)
    assert leaning.rating() is Rating.SENSITIVE
    assert plan_delivery(AFTER_DARK, [leaning]).withheld
    assert plan_delivery(AFTER_DARK, [leaning], minor_rule=MinorRule(sexual_threshold=0.5)).shown
    assert plan_delivery(AFTER_DARK, [RatingScores(0.2, 0.7, 0.1, 0.05, LOLI)]).shown


def test_a_broken_model_fails_closed() -> None:
    nan_minor = RatingScores(0.01, 0.02, 0.1, 0.95, MinorScore("loli", math.nan))
    assert plan_delivery(AFTER_DARK, [nan_minor]).withheld
    nan_rating = RatingScores(0.9, math.nan, 0.0, 0.0, LOLI)
    assert plan_delivery(AFTER_DARK, [nan_rating]).withheld


@pytest.mark.parametrize("value", [0.0, -0.1, 1.5, math.nan])
def test_thresholds_are_checked(value: float) -> None:
    with pytest.raises(ValueError, match="tag_threshold must be above 0 and at most 1"):
        MinorRule(tag_threshold=value)
    with pytest.raises(ValueError, match="sexual_threshold must be above 0 and at most 1"):
        MinorRule(sexual_threshold=value)


# --- review: audit and mod-log -----------------------------------------------------------------


async def test_review_audits_and_posts_to_the_modlog() -> None:
    audit, posted = RecordingAudit(), []

    async def notify(guild_id: int | None, attempt: BlockedAttempt) -> None:
        posted.append((guild_id, attempt))

    check = OutputCheck(audit, notify=notify)
    request = sample_request(rating="explicit")
    plan = await check.review(42, request, AFTER_DARK, [EXPLICIT_ADULT, EXPLICIT_LOLI])
    assert plan.withheld == (Withheld(1, Rating.EXPLICIT, LOLI),)
    (entry,) = audit.entries
    assert (entry["kind"], entry["decision"], entry["code"]) == ("output_check", "withhold", RefusalReason.MINORS)
    assert entry["reason"] == (
        "The output check withheld an image: minor-coded `loli` (90%) with the rating `explicit`."
    )
    assert entry["details"]["minor"] == {"tag": "loli", "confidence": 0.9}
    assert entry["details"]["job"] == 42 and entry["details"]["scores"]["explicit"] == 0.95
    ((guild, attempt),) = posted
    assert guild == request.guild_id and attempt.user_id == request.user_id
    assert attempt.prompt == request.user_prompt and "minor-coded `loli`" in attempt.reason


async def test_a_failing_modlog_post_does_not_undo_the_withholding() -> None:
    async def broken(guild_id: int | None, attempt: BlockedAttempt) -> None:
        raise RuntimeError("the mod-log channel is gone")

    check = OutputCheck(RecordingAudit())
    check.set_modlog_notifier(broken)
    plan = await check.review(1, sample_request(), AFTER_DARK, [EXPLICIT_LOLI])
    assert plan.refund


# --- the classifier reads the minor-coded labels -------------------------------------------------

IMAGE = Image.new("RGB", (8, 8), (200, 100, 50))
EXPLICIT = {"general": 0.01, "sensitive": 0.02, "questionable": 0.1, "explicit": 0.95}


def test_the_classifier_reports_the_strongest_minor_coded_label(tmp_path: Path) -> None:
    tags = {"1girl": 0.99, "child": 0.4, "loli": 0.8, "smile": 0.7}
    folder = tiny_tagger(tmp_path / "tagger", tags, ratings=EXPLICIT, character_names=())
    clf = load_classifier("wd14", str(folder), minor_check=True)
    assert isinstance(clf, WD14Classifier) and clf.minor_labels is not None
    assert clf.minor_labels.names == ("child", "loli")
    scores = clf.classify(IMAGE)
    assert scores.rating() is Rating.EXPLICIT
    assert scores.minor is not None and scores.minor.tag == "loli"
    assert scores.minor.confidence == pytest.approx(0.8)
    # A model file with its labels beside it works the same; without minor_check no labels are read.
    assert load_classifier("wd14", str(folder / "model.onnx"), minor_check=True).classify(IMAGE).minor is not None  # type: ignore[union-attr]
    assert load_classifier("wd14", str(folder)).classify(IMAGE).minor is None  # type: ignore[union-attr]


def test_one_onnx_pass_per_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tiny_tagger(tmp_path / "tagger", {"loli": 0.8}, ratings=EXPLICIT, character_names=())
    clf = load_classifier("wd14", str(folder), minor_check=True)
    assert isinstance(clf, WD14Classifier)
    calls = []
    real = clf.probabilities

    def counted(image: Image.Image) -> Any:
        calls.append(image)
        return real(image)

    monkeypatch.setattr(clf, "probabilities", counted)
    clf.classify(IMAGE)
    assert len(calls) == 1


def test_missing_labels_say_how_to_fix_or_turn_the_rule_off(tmp_path: Path) -> None:
    lone = constant_rating_model(tmp_path / "lone" / "model.onnx", Rating.GENERAL)
    with pytest.raises(ClassifierLoadError) as info:
        load_classifier("wd14", str(lone.parent), minor_check=True)
    message = str(info.value)
    assert "has no selected_tags.csv beside model.onnx" in message
    assert "put the model's selected_tags.csv there" in message and "minor_check = false" in message
    assert "\n" not in message  # bot.py shows the first line only


def test_labels_without_minor_coded_tags_are_refused(tmp_path: Path) -> None:
    folder = tiny_tagger(tmp_path / "tagger", {"1girl": 0.9, "smile": 0.5}, character_names=())
    with pytest.raises(ClassifierLoadError, match="none of the minor-coded tags.*minor_check = false"):
        load_classifier("wd14", str(folder), minor_check=True)


def test_a_hub_repo_s_labels_come_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    snapshot = offline_hub_snapshot(cache, monkeypatch)
    tiny_tagger(snapshot, {"shota": 0.6}, ratings=EXPLICIT, character_names=())
    clf = load_classifier("wd14", "SmilingWolf/wd-vit-tagger-v3", cache_dir=str(cache), minor_check=True)
    assert clf is not None and clf.classify(IMAGE).minor == MinorScore("shota", pytest.approx(0.6))  # type: ignore[arg-type]

    (snapshot / "selected_tags.csv").unlink()
    with pytest.raises(ClassifierLoadError, match="selected_tags.csv of classifier repo.*minor_check = false"):
        load_classifier("wd14", "SmilingWolf/wd-vit-tagger-v3", cache_dir=str(cache), minor_check=True)


# --- one list of minor-coded tags ----------------------------------------------------------------


def test_the_labels_come_from_the_prompt_rules_list() -> None:
    """Every minor-coded tag the prompt rules use (ContentFilter.minors) that can be a WD14 label
    (a Danbooru general or character tag; the set also holds words and artists' names) is a label
    the classifier looks for: the two rules read one list."""
    tags = TagDatabase.load()
    labels = {TagCategory.GENERAL, TagCategory.CHARACTER}
    canonical = {tag for tag in ContentFilter.load(tags).minors if tags.category(tag) in labels}
    assert {"loli", "shota", "child", "toddler", "aged_down", "baby"} <= canonical
    assert canonical <= minor_tag_names()


def test_a_tag_that_implies_a_minor_coded_tag_is_minor_coded() -> None:
    graph = Implications({"oppai_loli": ("loli", "breasts"), "big_sister": ("sister",)})
    names = minor_tag_names(implications=graph)
    assert {"loli", "oppai_loli"} <= names and "big_sister" not in names and "breasts" not in names


def test_rating_rows_never_count_as_minor_coded() -> None:
    labels = TagLabels(("general", "sensitive", "questionable", "explicit", "loli"), (9, 9, 9, 9, 0))
    assert MinorLabels.of(labels, frozenset({"general", "loli"})).names == ("loli",)
