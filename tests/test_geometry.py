"""bonefrac.geometry: box conversions and IoU against hand-computed cases and a naive loop."""

import numpy as np
import pytest

from bonefrac.geometry import box_area, cxcywh_to_xyxy, iou_matrix, iou_one_to_many, xyxy_to_cxcywh


def _naive_iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_cxcywh_to_xyxy_and_back():
    cxcywh = np.array([[0.5, 0.5, 0.2, 0.4], [10, 20, 4, 8]], np.float64)
    xyxy = cxcywh_to_xyxy(cxcywh)
    np.testing.assert_allclose(xyxy, [[0.4, 0.3, 0.6, 0.7], [8, 16, 12, 24]])
    np.testing.assert_allclose(xyxy_to_cxcywh(xyxy), cxcywh)
    assert cxcywh_to_xyxy(np.zeros((0, 4))).shape == (0, 4)


def test_conversions_keep_float32_and_promote_integers():
    assert cxcywh_to_xyxy(np.ones((2, 4), np.float32)).dtype == np.float32
    assert cxcywh_to_xyxy([[10, 20, 4, 8]]).dtype == np.float64


def test_conversions_reject_wrong_shapes():
    with pytest.raises(ValueError, match="\\(N, 4\\)"):
        cxcywh_to_xyxy(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="\\(4,\\)"):
        iou_one_to_many(np.zeros((1, 4)), np.zeros((2, 4)))


def test_iou_one_to_many_hand_computed():
    box = np.array([0, 0, 10, 10], np.float32)
    others = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], np.float32)
    iou = iou_one_to_many(box, others)
    np.testing.assert_allclose(iou, [1.0, 50 / 150, 0.0, 0.0])
    assert iou.dtype == np.float32  # NMS compares in float32, as ultralytics does


def test_iou_matrix_matches_a_naive_loop_and_is_scale_free():
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 100, size=(2, 7, 4))
    a = np.concatenate([corners[0, :, :2], corners[0, :, :2] + rng.uniform(0, 40, (7, 2))], axis=1)
    b = np.concatenate([corners[1, :5, :2], corners[1, :5, :2] + rng.uniform(0, 40, (5, 2))], axis=1)
    a[0] = b[0]  # one exact overlap
    matrix = iou_matrix(a, b)
    assert matrix.shape == (7, 5)
    expected = [[_naive_iou(x, y) for y in b] for x in a]
    np.testing.assert_allclose(matrix, expected, rtol=1e-12, atol=1e-12)
    assert matrix[0, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(iou_matrix(a / 100, b / 100), matrix, rtol=1e-9, atol=1e-12)


def test_iou_matrix_empty_sides_and_degenerate_boxes():
    assert iou_matrix(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
    assert iou_matrix(np.ones((2, 4)), np.zeros((0, 4))).shape == (2, 0)
    point = [[5, 5, 5, 5]]
    assert iou_matrix(point, point).tolist() == [[0.0]]  # empty union: 0, no warning, no nan


def test_iou_matrix_agrees_with_one_to_many_and_area():
    boxes = np.array([[0, 0, 4, 4], [2, 2, 6, 6], [3, 0, 5, 1]], np.float64)
    for i, box in enumerate(boxes):
        np.testing.assert_array_equal(iou_matrix(boxes, boxes)[i], iou_one_to_many(box, boxes))
    np.testing.assert_allclose(box_area(boxes), [16, 16, 2])


def test_iou_of_yolo_label_rows_after_conversion():
    # normalised cx cy w h rows (the data check's label boxes): IoU after cxcywh_to_xyxy
    a = np.array([[0.5, 0.5, 0.2, 0.2]])
    b = np.array([[0.6, 0.5, 0.2, 0.2], [0.1, 0.1, 0.05, 0.05]])
    np.testing.assert_allclose(iou_matrix(cxcywh_to_xyxy(a), cxcywh_to_xyxy(b)), [[0.02 / 0.06, 0.0]])


def test_boxes_intersect_needs_shared_area():
    from bonefrac.geometry import boxes_intersect

    got = boxes_intersect([[0, 0, 10, 10]], [[5, 5, 15, 15], [10, 0, 20, 10], [20, 20, 30, 30]])
    assert got.tolist() == [[True, False, False]]  # touching edges share no area


def test_place_tags_nested_boxes_of_one_finding_get_tags_that_do_not_overlap():
    from bonefrac.geometry import boxes_intersect, place_tags

    nested = [[100, 100, 200, 200], [102, 101, 198, 199], [110, 110, 190, 190]]  # one fracture, three boxes
    corners = place_tags(nested, [[80, 16]] * 3, 400, 300)
    tags = np.hstack([corners, corners + [80, 16]])
    overlaps = boxes_intersect(tags, tags)
    assert not overlaps[~np.eye(3, dtype=bool)].any()
    assert corners[0].tolist() == [100, 84]  # the first keeps the best spot: above the top-left corner
    assert ((tags[:, :2] >= 0) & (tags[:, 2:] <= [400, 300])).all()  # all inside the image


def test_place_tags_moves_a_tag_inside_the_image_at_the_top_edge():
    from bonefrac.geometry import place_tags

    assert place_tags([[390, 0, 399, 50]], [[40, 10]], 400, 300).tolist() == [[360, 0]]
    with pytest.raises(ValueError, match="one tag size per anchor box"):
        place_tags([[0, 0, 1, 1]], [[1, 1], [2, 2]], 10, 10)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((400, 200, 1.0), (0, 0, 400, 200)),
        ((400, 200, 2.0), (100, 50, 300, 150)),
        ((400, 200, 4.0, 0.0, 0.0), (0, 0, 100, 50)),  # kept inside at the corner
        ((400, 200, 4.0, 1.0, 1.0), (300, 150, 400, 200)),
        ((3, 3, 100.0), (1, 1, 2, 2)),  # never empty
    ],
)
def test_zoom_window(args, expected):
    from bonefrac.geometry import zoom_window

    assert zoom_window(*args) == expected


def test_zoom_window_refuses_bad_values():
    from bonefrac.geometry import zoom_window

    with pytest.raises(ValueError, match="zoom must be 1 or more"):
        zoom_window(10, 10, 0.5)
    with pytest.raises(ValueError, match="fractions 0..1"):
        zoom_window(10, 10, 2, 1.5, 0.5)
