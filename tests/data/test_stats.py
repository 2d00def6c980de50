import numpy as np
from data_helpers import radiograph

from bonefrac.data.image_checks import scan_image
from bonefrac.data.label_checks import LabelScan
from bonefrac.data.stats import distribution, split_stats


def test_distribution_quantiles_and_empty():
    d = distribution([1, 2, 3, 4, 5])
    assert (d["min"], d["median"], d["max"], d["mean"]) == (1, 3, 5, 3)
    assert distribution([]) == {}


def test_split_stats_counts_boxes_backgrounds_and_sizes(tmp_path):
    scans = []
    for i, size in enumerate((64, 64, 96)):
        path = tmp_path / f"{i}.png"
        radiograph(i, size).save(path)
        scans.append(scan_image(path))
    labels = [
        LabelScan(tmp_path / "0.txt", True, np.array([[0, 0.5, 0.5, 0.2, 0.1], [1, 0.5, 0.5, 0.4, 0.4]])),
        LabelScan(tmp_path / "1.txt", True),
        LabelScan(tmp_path / "2.txt", False),
    ]
    stats = split_stats(scans, labels, ("fractured", "other"))
    assert (stats.images, stats.with_boxes, stats.backgrounds, stats.boxes) == (3, 1, 2, 2)
    assert stats.boxes_per_class == {"fractured": 1, "other": 1} and stats.missing_labels == 1
    assert stats.box_size["aspect"]["min"] == 1.0 and stats.box_size["aspect"]["max"] == 2.0
    assert stats.image_size["most_common"][0] == {"size": "64x64", "images": 2}
    assert abs(stats.background_share - 2 / 3) < 1e-9
