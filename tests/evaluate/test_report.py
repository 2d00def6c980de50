from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bonefrac.evaluate.evaluator import DetectionEvaluator
from bonefrac.evaluate.predictions import GroundTruth, ImagePrediction
from bonefrac.evaluate.report import gallery_cases, write_report
from bonefrac.records import Detections


@pytest.fixture
def prepared(tmp_path):
    """Three real 100 px images: a found fracture with a false alarm, a missed fracture, a background."""
    names = ("fractured",)
    specs = [
        ([[10, 10, 30, 30]], [([10, 10, 30, 30], 0.9), ([60, 60, 80, 80], 0.8)]),
        ([[50, 50, 70, 76]], [([5, 5, 15, 15], 0.2)]),
        ([], [([20, 20, 40, 40], 0.75)]),
    ]
    evaluator = DetectionEvaluator(names)
    for i, (gt, dets) in enumerate(specs):
        path = tmp_path / "images" / f"img{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((100, 100), 40 + 60 * i, np.uint8)).save(path)
        detections = Detections(
            np.array([d[0] for d in dets], float),
            np.array([d[1] for d in dets]),
            np.zeros(len(dets), int),
            names,
        )
        evaluator.process(
            ImagePrediction(path, 100, 100, detections),
            GroundTruth(path, 100, 100, np.array(gt, float).reshape(-1, 4), np.zeros(len(gt), int)),
        )
    return evaluator.evaluate()


def test_gallery_cases_find_the_miss_and_the_false_alarms(prepared):
    misses, alarms = gallery_cases(prepared, 0.5)
    assert [m[0] for m in misses] == [1]
    assert [a[0] for a in alarms] == [0, 2]  # 0.8 on image 0 before 0.75 on the background
    assert "background image" in alarms[1][2] and "missed" in misses[0][2]


def test_report_is_self_contained_html_with_plots_and_galleries(prepared, eval_report, tmp_path):
    report = eval_report(prepared, resamples=50)
    path = write_report(report, prepared, tmp_path / "report.html")
    text = path.read_text()
    for heading in (
        "Summary",
        "Fractured images only",
        "Per class",
        "FROC",
        "By box size",
        "Worst misses",
        "Most confident false alarms",
    ):
        assert f"<h2>{heading}</h2>" in text
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 5 + 1 + 2  # five plots, one miss, two false alarms
    for encoded in images:
        assert base64.b64decode(encoded).startswith(b"\x89PNG")
    assert "http://" not in text and "https://" not in text
    fractured = report.box_fractured_only
    assert fractured.images == 2 and f"only the {fractured.images} images" in text
    # without the background image's false alarm, precision at 0.5 is 1 of 2 boxes instead of 1 of 3
    assert fractured.precision.value == pytest.approx(1 / 2) and report.box.precision.value == pytest.approx(
        1 / 3
    )


def test_report_survives_unreadable_gallery_image(prepared, eval_report, tmp_path):
    Path(prepared.predictions[1].path).write_bytes(b"broken")
    text = write_report(eval_report(prepared), prepared, tmp_path / "report.html").read_text()
    assert "<h2>Worst misses</h2>" in text
