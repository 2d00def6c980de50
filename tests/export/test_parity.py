"""Box matching of the parity check against hand-built detection sets."""

from __future__ import annotations

import numpy as np
import pytest

from bonefrac.export.parity import compare_detections, judge
from bonefrac.records import Detections

NAMES = ("fractured", "implant")


def _dets(rows: list[tuple[float, float, float, float, float, int]]) -> Detections:
    array = np.asarray(rows, np.float64).reshape(-1, 6)
    return Detections(array[:, :4], array[:, 4], array[:, 5].astype(int), NAMES)


REFERENCE = _dets([(10, 10, 50, 50, 0.9, 0), (60, 60, 90, 95, 0.4, 1)])


@pytest.mark.parametrize(
    ("candidate", "passes", "why"),
    [
        (REFERENCE, True, "identical"),
        (_dets([(60, 60, 90, 95, 0.4005, 1), (10, 10, 50, 50, 0.9, 0)]), True, "order and tiny conf change"),
        (_dets([(10, 10, 50, 50.2, 0.9, 0), (60, 60, 90, 95, 0.4, 1)]), True, "IoU 0.995"),
        (_dets([(10, 10, 50, 51, 0.9, 0), (60, 60, 90, 95, 0.4, 1)]), False, "IoU 0.976 < 0.99"),
        (_dets([(10, 10, 50, 50, 0.9, 0), (60, 60, 90, 95, 0.402, 1)]), False, "conf differs by 2e-3"),
        (_dets([(10, 10, 50, 50, 0.9, 1), (60, 60, 90, 95, 0.4, 1)]), False, "class changed"),
        (_dets([(10, 10, 50, 50, 0.9, 0)]), False, "a box missing"),
        (
            _dets([(10, 10, 50, 50, 0.9, 0), (60, 60, 90, 95, 0.4, 1), (0, 0, 5, 5, 0.0105, 0)]),
            True,
            "an extra box within tolerance of the threshold",
        ),
        (
            _dets([(10, 10, 50, 50, 0.9, 0), (60, 60, 90, 95, 0.4, 1), (0, 0, 5, 5, 0.3, 0)]),
            False,
            "an extra confident box",
        ),
    ],
)
def test_compare_detections_tolerances(candidate, passes, why):
    comparison = compare_detections("img", REFERENCE, candidate, threshold=0.01)
    report = judge([comparison])
    assert report.passed is passes, (why, report.failures)


def test_parity_report_summary_counts():
    same = compare_detections("a", REFERENCE, REFERENCE, threshold=0.01)
    empty = compare_detections("b", Detections.empty(NAMES), Detections.empty(NAMES), threshold=0.01)
    report = judge([same, empty])
    summary = report.summary()
    assert summary["passed"] and summary["matched_boxes"] == 2 and summary["box_agreement"] == 1.0
    assert summary["min_matched_iou"] == 1.0 and summary["max_conf_delta"] == 0.0
