"""The card's two-tier section, the check that a test run used the card's tiers, and the start credit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bonefrac.card.markdown import render_model_card
from bonefrac.card.publish import _check_same_tiers
from bonefrac.card.record import ClassifierRef, ModelCard, OperatingPoints, Tier
from bonefrac.card.text import fmt
from bonefrac.card.training import read_training_summary
from bonefrac.errors import ModelError


def _tiers(weight: float = 0.7, image_score: str = "fused") -> OperatingPoints:
    return OperatingPoints(
        image_score=image_score,
        classifier_weight=weight,
        split="val",
        high_sensitivity=Tier(image_threshold=0.3, box_threshold=0.2, target="sensitivity>=0.9"),
        high_specificity=Tier(image_threshold=0.6, box_threshold=0.5, target="specificity>=0.9"),
        auroc={"detector": 0.7, "classifier": 0.8, "fused": 0.82},
    )


def _card(points: OperatingPoints | None) -> ModelCard:
    return ModelCard(
        name="m",
        version="1",
        class_names=["fractured"],
        input_size=320,
        weights_sha256="ab" * 32,
        operating_points=points,
        classifier=ClassifierRef(sha256="ef" * 32, version="c1", input_size=320) if points else None,
    )


def test_markdown_shows_fusion_auroc_and_both_tiers(build_report) -> None:
    points = _tiers()
    test = build_report(tiers=points)
    text = render_model_card(_card(points), test, val=build_report(seed=1, tiers=points))
    section = text.split("## Two operating points", 1)[1].split("\n## ", 1)[0]
    assert "0.7 x the classifier's probability + 0.3 x the detector's highest box confidence" in section
    for label in ("Detector alone", "Classifier alone", "Fused image score"):
        assert label in section
    assert "| High sensitivity (sensitivity>=0.9) | 0.3000 | 0.2000 |" in section
    assert "| High specificity (specificity>=0.9) | 0.6000 | 0.5000 |" in section
    confusion = test.two_tier.high_sensitivity.confusion
    assert f"{confusion.tp} of {confusion.tp + confusion.fn} fractured images called" in section
    assert "two operating points above" in text  # the single threshold is described as secondary


def test_publish_refuses_a_test_run_at_other_tiers(build_report) -> None:
    points = _tiers()
    moved = points.model_copy(
        update={"high_specificity": points.high_specificity.model_copy(update={"image_threshold": 0.7})}
    )
    with pytest.raises(ModelError, match="two operating points"):
        _check_same_tiers(_card(points), build_report(tiers=moved), Path("eval.json"))
    with pytest.raises(ModelError, match="two operating points"):
        _check_same_tiers(_card(points), build_report(), Path("eval.json"))
    other = _card(points).model_copy(
        update={"classifier": ClassifierRef(sha256="00" * 32, version="c0", input_size=320)}
    )
    with pytest.raises(ModelError, match="another classifier"):
        _check_same_tiers(other, build_report(tiers=points), Path("eval.json"))


def test_publish_accepts_the_cards_own_tiers(build_report) -> None:
    points = _tiers()
    card = _card(points).model_copy(
        update={"classifier": ClassifierRef(sha256="ef" * 32, version="c1", input_size=320)}
    )
    _check_same_tiers(card, build_report(tiers=points), Path("eval.json"))
    _check_same_tiers(_card(None), build_report(), Path("eval.json"))  # no tiers: nothing to check


def test_training_summary_credits_a_start_recorded_after_the_run(run_folder, tmp_path: Path) -> None:
    folder = run_folder(tmp_path / "run")
    weights = tmp_path / "start.pt"
    weights.write_bytes(b"not a registered checkpoint")
    config = (folder / "config.yaml").read_text().replace("yolo11n.yaml", str(weights))
    (folder / "config.yaml").write_text(config)
    start = read_training_summary(folder).start
    assert start is not None and start["init"] == "pretrained" and start["credit"] is None
    assert len(start["sha256"]) == 64 and "predates" in start["recorded"]


def test_training_summary_prefers_the_recorded_start(run_folder, tmp_path: Path) -> None:
    folder = run_folder(tmp_path / "run")
    env = json.loads((folder / "environment.json").read_text())
    env["start"] = {"init": "pretrained", "path": "/x/coco.pt", "sha256": "12" * 32, "credit": "COCO credit"}
    (folder / "environment.json").write_text(json.dumps(env))
    summary = read_training_summary(folder)
    assert summary.start is not None and summary.start["credit"] == "COCO credit"
    from bonefrac.card.markdown import _training_lines

    assert "COCO credit" in "\n".join(_training_lines(summary))


def test_image_level_references_meet_the_fused_image_score(build_report) -> None:
    """An image classifier from the literature is set beside the score images are called by, not the
    detector's top box alone (which the row still names)."""
    from bonefrac.card.references import image_score_auroc, load_reference_results

    points = _tiers()
    test = build_report(tiers=points)
    fused = test.two_tier.auroc.fused
    detector_only = build_report()
    assert image_score_auroc(test) == fused != test.image.auroc
    assert image_score_auroc(detector_only) == detector_only.image.auroc
    resnet = load_reference_results().get("resnet18_classifier_448")
    assert resnet.counterpart(test) == {"auroc": fused}
    text = render_model_card(_card(points), test, references=[resnet])
    row = next(line for line in text.splitlines() if line.startswith("| ResNet-18"))
    assert row.endswith(f"(fused image score; the detector alone {fmt(test.image.auroc)}) |")
