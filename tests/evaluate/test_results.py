"""compute_results: the typed metric records, and the fractured-only protocol as an evaluation of its own."""

from __future__ import annotations

import numpy as np
import pytest

from bonefrac.evaluate.record import OperatingChoice
from bonefrac.evaluate.results import breakdown_by_groups, compute_results, fractured_only_paths

BOX_KEYS = ("map50", "map50_95", "precision", "recall", "f1")


@pytest.mark.parametrize("seed", [0, 5])
def test_fractured_only_is_the_evaluation_of_the_fractured_images_alone(random_case, prepare, seed):
    preds, truths = random_case(seed, n_images=40)
    whole = prepare(preds, truths)
    kept = [(p, t) for p, t in zip(preds, truths, strict=True) if not t.is_background]
    assert 0 < len(kept) < len(preds)
    alone = prepare([p for p, _ in kept], [t for _, t in kept])
    choice = OperatingChoice(threshold=0.4, rule="fixed", split="test")
    fractured = compute_results(whole, choice, resamples=60, seed=seed).box_fractured_only
    reference = compute_results(alone, choice, resamples=60, seed=seed).box
    for key in BOX_KEYS:  # same values, and the same intervals: the bootstrap resamples these images alone
        assert getattr(fractured, key).value == pytest.approx(getattr(reference, key).value), key
        assert getattr(fractured, key).ci95 == pytest.approx(getattr(reference, key).ci95), key
    assert fractured.images == len(kept) and fractured.boxes == sum(len(t.xyxy) for _, t in kept)
    assert fractured_only_paths(whole) == [str(p.path) for p, _ in kept]


def test_fractured_only_leaves_background_false_positives_out(make_image, prepare):
    found = make_image("a", [[10, 10, 40, 40]], [([10, 10, 40, 40], 0.9)])
    background = make_image("b", [], [([50, 50, 80, 80], 0.95)])
    prepared = prepare(*zip(found, background, strict=True))
    result = compute_results(prepared, OperatingChoice(threshold=0.5, rule="fixed", split="test"), 0, 0)
    assert result.box.precision.value == pytest.approx(0.5) and result.box.map50.value < 1.0
    only = result.box_fractured_only
    assert only.precision.value == 1.0 and only.map50.value == pytest.approx(1.0) and only.images == 1
    assert only.recall == result.box.recall and only.map50.ci95 is None  # no bootstrap asked


def test_fractured_only_without_any_fracture_is_undefined(make_image, prepare):
    prepared = prepare(*zip(make_image("b", [], [([5, 5, 20, 20], 0.8)]), strict=True))
    only = compute_results(prepared, OperatingChoice(threshold=0.5, rule="fixed", split="val"), 30, 0)
    assert only.box_fractured_only.images == 0 and only.box_fractured_only.map50.value is None
    assert only.box_fractured_only.map50.ci95 is None


def test_group_breakdown_is_typed_per_group(random_case, prepare):
    prepared = prepare(*random_case(2, n_images=30))
    index = np.arange(prepared.n_images)
    masks = {"first": index < 15, "second": index >= 15}
    groups = breakdown_by_groups(prepared, masks, threshold=0.3, resamples=30, seed=0)
    assert set(groups) == {"first", "second"} and groups["first"].images == 15
    assert groups["first"].positive_images == int(prepared.positive[:15].sum())
    low, high = groups["second"].map50.ci95
    assert low <= groups["second"].map50.value <= high
