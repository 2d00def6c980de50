import re

import numpy as np
import pytest
from data_helpers import radiograph

from bonefrac.data.eda import draw_boxes, write_html_report
from bonefrac.data.label_checks import LabelScan
from bonefrac.data.yolo_format import load_dataset

pytest.importorskip("matplotlib")


def test_html_report_is_self_contained_and_has_every_section(faulty_dataset, tmp_path):
    path = write_html_report(load_dataset(faulty_dataset.yaml_path), tmp_path / "r", workers=1, seed=1)
    page = path.read_text()
    sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
    assert sources and all(s.startswith("data:image/") for s in sources)
    assert len([s for s in sources if s.startswith("data:image/png")]) == 5  # the five plot figures
    for heading in (
        "Splits",
        "Findings (5 errors",
        "Distributions",
        "Sample images",
        "Copies across splits",
    ):
        assert heading in page
    assert "resized_good_2.jpg" in page and "label_conflict" in page
    assert (tmp_path / "r" / "report.json").is_file()


def test_draw_boxes_marks_the_box_region(tmp_path):
    path = tmp_path / "a.png"
    radiograph(0, 128).convert("L").save(path)
    label = LabelScan(tmp_path / "a.txt", True, np.array([[0, 0.5, 0.5, 0.5, 0.5]]))
    drawn = np.asarray(draw_boxes(path, label, ("fractured",), side=128))
    plain = np.asarray(radiograph(0, 128).convert("RGB"))
    changed = np.argwhere(np.any(drawn != plain, axis=2))
    assert changed[:, 0].min() >= 20 and changed[:, 0].max() <= 100  # only around the box (and its name)
    assert tuple(drawn[64, 32]) == (230, 60, 60)  # left edge of the box in the first class colour
