"""FractureAnalyser on a real tiny detector + classifier pair: probability, fused score, call, box tiers, and
a card without tiers that behaves as the detector alone did."""

from __future__ import annotations

import numpy as np
import pytest

from bonefrac.card.record import ModelCard, card_path_for, read_model_card, write_model_card
from bonefrac.errors import ModelError
from bonefrac.imaging.io import load_image
from bonefrac.infer.analysis import SCORE_FLOOR, FractureAnalyser
from bonefrac.infer.classifier import FractureClassifier
from bonefrac.infer.predictor import Predictor

pytestmark = pytest.mark.slow  # trains and exports the tiny detector and classifier


def test_analyse_fuses_the_classifiers_probability_and_tiers_the_boxes(tiered_model, tiny_pair_reference):
    model = tiered_model()
    image = load_image(tiny_pair_reference.image)
    finding = FractureAnalyser.from_model(model, threads=1).analyse(image)

    probability = FractureClassifier(model.parent / "classifier.onnx").probability(image)
    found = Predictor(model).predict(image, conf=SCORE_FLOOR)
    assert finding.fracture_probability == pytest.approx(probability, abs=1e-6)
    assert finding.detector_score == pytest.approx(float(found.confidence.max()), abs=1e-6)
    assert finding.image_score == pytest.approx(0.5 * probability + 0.5 * finding.detector_score, abs=1e-6)
    assert finding.call == "high_specificity"
    weaker = len(tiny_pair_reference.confidences) - 1
    assert finding.box_tiers == ("high_specificity",) + ("high_sensitivity",) * weaker
    np.testing.assert_allclose(finding.detections.xyxy, found.xyxy, atol=1e-3)
    np.testing.assert_allclose(finding.detections.confidence, found.confidence, atol=1e-6)


@pytest.mark.parametrize(
    ("call", "tiers"),
    [
        ("high_sensitivity", "all dashed"),  # the strongest box is demoted with the image's call
        ("negative", "none"),
    ],
)
def test_analyse_call_follows_the_image_score(tiered_model, tiny_pair_reference, call, tiers):
    model = tiered_model(tiny_pair_reference.points(call))
    finding = FractureAnalyser.from_model(model).analyse(load_image(tiny_pair_reference.image))
    assert finding.call == call
    expected = ("high_sensitivity",) * len(tiny_pair_reference.confidences) if tiers == "all dashed" else ()
    assert finding.box_tiers == expected
    assert len(finding.detections) == len(expected)
    assert finding.fracture_probability == pytest.approx(tiny_pair_reference.probability, abs=1e-6)


def test_analyse_drops_boxes_below_both_tiers(tiered_model, tiny_pair_reference):
    model = tiered_model(tiny_pair_reference.points(dashed=False))
    finding = FractureAnalyser.from_model(model).analyse(load_image(tiny_pair_reference.image))
    assert finding.call == "high_specificity"
    assert finding.box_tiers == ("high_specificity",)
    assert finding.detections.confidence.tolist() == pytest.approx([tiny_pair_reference.confidences[0]])


def test_analyse_min_confidence_shows_boxes_on_a_negative_image(tiered_model, tiny_pair_reference):
    model = tiered_model(tiny_pair_reference.points("negative"))
    analyser = FractureAnalyser.from_model(model)
    image = load_image(tiny_pair_reference.image)
    weakest = tiny_pair_reference.confidences[-1]
    shown = analyser.analyse(image, min_confidence=weakest / 2)
    assert shown.call == "negative"
    weaker = len(tiny_pair_reference.confidences) - 1
    assert shown.box_tiers == ("high_specificity",) + ("high_sensitivity",) * weaker
    strict = analyser.analyse(image, min_confidence=tiny_pair_reference.confidences[0] * 1.5)
    assert strict.box_tiers == () and len(strict.detections) == 0


def test_from_model_refuses_a_missing_classifier_file(tiered_model):
    model = tiered_model()
    (model.parent / "classifier.onnx").unlink()
    with pytest.raises(ModelError, match=r"names the classifier classifier\.onnx .* does not exist"):
        FractureAnalyser.from_model(model)


def test_from_model_refuses_a_classifier_the_card_does_not_name(tiered_model):
    model = tiered_model(classifier_sha256="0" * 64)
    with pytest.raises(ModelError, match="the card describes another classifier file"):
        FractureAnalyser.from_model(model)


def test_fused_points_without_a_classifier_in_the_card_are_refused(tiered_model):
    model = tiered_model(classifier=False)
    with pytest.raises(ModelError, match="fuses an image classifier's probability"):
        FractureAnalyser.from_model(model)


def test_card_without_tiers_behaves_as_the_detector_alone(tiered_model, tiny_pair_reference):
    threshold = tiny_pair_reference.solid_box_threshold
    model = tiered_model(None, classifier=False, threshold=threshold)
    analyser = FractureAnalyser.from_model(model)
    assert analyser.classifier is None
    image = load_image(tiny_pair_reference.image)
    finding = analyser.analyse(image)
    before = Predictor(model).predict(image)  # the card's threshold, as the service ran it before
    assert len(before) == 1
    np.testing.assert_array_equal(finding.detections.xyxy, before.xyxy)
    np.testing.assert_array_equal(finding.detections.confidence, before.confidence)
    assert finding.box_tiers == ("high_specificity",)  # drawn solid, as every box was
    assert finding.call == "high_specificity"
    assert finding.fracture_probability is None
    assert finding.image_score == finding.detector_score == pytest.approx(tiny_pair_reference.confidences[0])


def test_card_without_tiers_above_every_box_is_negative_with_no_boxes(tiered_model, tiny_pair_reference):
    model = tiered_model(None, classifier=False, threshold=min(1.0, tiny_pair_reference.confidences[0] * 2))
    finding = FractureAnalyser.from_model(model).analyse(load_image(tiny_pair_reference.image))
    assert finding.call == "negative" and len(finding.detections) == 0
    assert len(Predictor(model).predict(load_image(tiny_pair_reference.image))) == 0


def test_card_without_tiers_still_reports_its_classifiers_probability(tiered_model, tiny_pair_reference):
    model = tiered_model(None, threshold=tiny_pair_reference.solid_box_threshold)
    finding = FractureAnalyser.from_model(model).analyse(load_image(tiny_pair_reference.image))
    assert finding.fracture_probability == pytest.approx(tiny_pair_reference.probability, abs=1e-6)
    assert finding.image_score == finding.detector_score  # the single threshold applies to the detector


def test_describe_names_the_classifier_and_both_operating_points(tiered_model):
    model = tiered_model()
    facts = FractureAnalyser.from_model(model).describe()
    card: ModelCard = read_model_card(card_path_for(model))
    assert facts["classifier"]["sha256"] == card.classifier.sha256
    assert facts["operating_points"]["high_specificity"]["box_threshold"] == pytest.approx(
        card.operating_points.high_specificity.box_threshold
    )


def test_card_naming_a_classifier_with_no_tiers_file_missing_is_refused(tiered_model):
    model = tiered_model(None)
    card = read_model_card(card_path_for(model))
    write_model_card(
        card.model_copy(update={"classifier": card.classifier.model_copy(update={"file": "c.onnx"})}),
        card_path_for(model),
    )
    with pytest.raises(ModelError, match="c.onnx"):
        FractureAnalyser.from_model(model)
