import numpy as np
import pytest

from bonefrac.records import Detections, Radiograph


def test_detections_coerces_dtypes_and_counts():
    det = Detections([[0, 0, 10, 10], [5, 5, 6, 8]], [0.9, 0.2], [0, 0], ("fractured",))
    assert (
        det.xyxy.dtype == np.float32 and det.confidence.dtype == np.float32 and det.class_id.dtype == np.int64
    )
    assert len(det) == 2
    assert len(det.above(0.5)) == 1


def test_detections_empty_has_shape_n_by_4():
    det = Detections.empty(("fractured",))
    assert det.xyxy.shape == (0, 4) and len(det) == 0 and det.to_list() == []


@pytest.mark.parametrize(
    ("xyxy", "conf", "cls", "message"),
    [
        ([1, 2, 3], [0.5], [0], r"xyxy must be \(N, 4\), got \(1, 3\)|xyxy must be \(N, 4\), got \(3,\)"),
        ([[0, 0, 1, 1]], [0.5, 0.1], [0], r"confidence must be \(1,\)"),
        ([[0, 0, 1, 1]], [0.5], [0, 1], r"class_id must be \(1,\)"),
        ([[5, 0, 1, 1]], [0.5], [0], "x2 >= x1"),
        ([[0, 0, 1, 1]], [0.5], [3], r"class_id must be in 0\.\.0"),
    ],
)
def test_detections_rejects_bad_shapes(xyxy, conf, cls, message):
    with pytest.raises(ValueError, match=message):
        Detections(np.array(xyxy, dtype=np.float32), conf, cls, ("fractured",))


def test_detections_to_list_names_classes():
    det = Detections([[1.234, 2, 3, 4]], [0.87654321], [0], ("fractured",))
    assert det.to_list() == [
        {"xyxy": [1.23, 2.0, 3.0, 4.0], "confidence": 0.87654, "class_id": 0, "class_name": "fractured"}
    ]


def test_radiograph_requires_rgb_uint8():
    Radiograph(np.zeros((4, 5, 3), np.uint8), "png")
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8, got \(4, 5\)"):
        Radiograph(np.zeros((4, 5), np.uint8), "png")
