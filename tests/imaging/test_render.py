import io

import numpy as np
import pytest
from PIL import Image

from bonefrac.errors import ImageError
from bonefrac.imaging.render import PALETTE, draw_detections, encode_png, font_size_for, line_width_for
from bonefrac.records import Detections, Radiograph

NAMES = ("fractured", "hardware")


def _canvas(height=200, width=300, value=40):
    return np.full((height, width, 3), value, np.uint8)


def _detections(boxes, confidences, classes=None, names=NAMES):
    classes = classes if classes is not None else [0] * len(boxes)
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), confidences, classes, names)


def test_draw_detections_draws_box_outline_in_class_colour_and_keeps_input():
    image = _canvas()
    before = image.copy()
    out = draw_detections(image, _detections([[100, 80, 200, 160]], [0.87]))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(image, before)  # input untouched
    assert tuple(out[120, 100]) == PALETTE[0]  # left edge
    assert tuple(out[160, 150]) == PALETTE[0]  # bottom edge
    assert tuple(out[120, 150]) == (40, 40, 40)  # inside stays
    assert np.any(out[:80, 100:200] != 40)  # the label tag sits above the box


def test_draw_detections_label_text_is_drawn():
    """The tag holds text: it has pixels of the tag colour and of the text colour."""
    out = draw_detections(_canvas(), _detections([[100, 80, 200, 160]], [0.87]))
    tag = out[50:80, 100:200].reshape(-1, 3)
    assert np.any(np.all(tag == PALETTE[0], axis=1))  # tag background
    assert np.any(np.all(tag > 200, axis=1))  # white (anti-aliased) text on the red tag


def test_draw_detections_label_goes_inside_when_box_touches_the_top():
    out = draw_detections(_canvas(), _detections([[100, 0, 200, 160]], [0.5]))
    assert np.any(out[2:20, 102:198] != 40)


@pytest.mark.parametrize(("threshold", "changed"), [(None, True), (0.3, True), (0.31, False)])
def test_draw_detections_threshold_hides_low_confidence(threshold, changed):
    image = _canvas()
    out = draw_detections(image, _detections([[10, 20, 60, 90]], [0.3]), threshold=threshold)
    assert (not np.array_equal(out, image)) is changed


def test_draw_detections_with_nothing_returns_an_equal_copy():
    image = _canvas()
    out = draw_detections(image, Detections.empty(NAMES))
    assert np.array_equal(out, image) and out is not image


def test_draw_detections_colours_follow_class_ids():
    out = draw_detections(
        _canvas(), _detections([[20, 50, 80, 150], [150, 50, 250, 150]], [0.9, 0.8], [0, 1])
    )
    assert tuple(out[100, 20]) == PALETTE[0] and tuple(out[100, 150]) == PALETTE[1]


def test_draw_detections_clips_boxes_outside_the_image():
    out = draw_detections(_canvas(50, 60), _detections([[-30, -10, 500, 400]], [0.9]))
    assert tuple(out[25, 0]) == PALETTE[0] and tuple(out[25, 59]) == PALETTE[0]


@pytest.mark.parametrize(
    "image",
    [
        Radiograph(pixels=_canvas(), source_format="png"),
        np.full((200, 300), 40, np.uint8),
        np.full((200, 300, 4), 40, np.uint8),
    ],
)
def test_draw_detections_accepts_radiographs_grey_and_rgba(image):
    out = draw_detections(image, _detections([[100, 80, 200, 160]], [0.87]))
    assert out.shape == (200, 300, 3) and tuple(out[120, 100]) == PALETTE[0]


def test_draw_detections_without_class_names_uses_the_id():
    out = draw_detections(_canvas(), _detections([[100, 80, 200, 160]], [0.87], [3], names=()))
    assert tuple(out[120, 100]) == PALETTE[3]


@pytest.mark.parametrize("bad", [np.zeros((10, 10, 3), np.float32), np.zeros((10, 10, 2), np.uint8)])
def test_draw_detections_refuses_bad_pixels(bad):
    with pytest.raises(ImageError, match="draw_detections needs"):
        draw_detections(bad, Detections.empty())


@pytest.mark.parametrize(
    ("size", "line", "font"),
    [((64, 64), 1, 11), ((640, 480), 2, 20), ((3000, 2500), 8, 94), ((9000, 9000), 30, 96)],
)
def test_line_and_font_scale_with_image_size(size, line, font):
    assert line_width_for(*size) == line
    assert font_size_for(*size) == font


def test_draw_detections_line_is_thicker_on_big_images():
    big = draw_detections(_canvas(1500, 1500), _detections([[500, 500, 1000, 1000]], [0.9]))
    thickness = int(np.sum(np.all(big[750, 490:560] == PALETTE[0], axis=1)))
    assert thickness == line_width_for(1500, 1500) == 5


@pytest.mark.parametrize("shape", [(20, 30), (20, 30, 3), (20, 30, 4)])
def test_encode_png_round_trips(shape):
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(pixels)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), np.float64),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
        np.zeros(5, np.uint8),
    ],
)
def test_encode_png_refuses_bad_arrays(bad):
    with pytest.raises(ImageError, match="encode_png needs"):
        encode_png(bad)


def test_draw_detections_skips_non_finite_boxes():
    image = _canvas(50, 60)
    boxes = np.array([[np.nan, 1, 5, 5], [1, 1, np.inf, 8]], np.float32)
    out = draw_detections(image, Detections(boxes, [0.5, 0.6], [0, 0], NAMES))
    assert np.array_equal(out, image)


def test_draw_detections_is_safe_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    images = [_canvas(120 + 10 * i, 160) for i in range(8)]
    detections = _detections([[10, 40, 90, 100], [100, 30, 150, 90]], [0.91, 0.47], [0, 1])
    expected = [draw_detections(image, detections) for image in images]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda image: draw_detections(image, detections), images * 4))
    assert all(np.array_equal(out, expected[i % 8]) for i, out in enumerate(results))


def _edge_runs(out: np.ndarray, row: int, x1: int, x2: int) -> np.ndarray:
    """Which pixels of one box edge (a row between x1 and x2) carry the box colour."""
    return np.all(out[row, x1 : x2 + 1] == PALETTE[0], axis=1)


def test_draw_detections_dashed_style_leaves_gaps_solid_does_not():
    boxes = _detections([[20, 100, 120, 180], [160, 100, 260, 180]], [0.9, 0.5])
    out = draw_detections(_canvas(), boxes, styles=["solid", "dashed"])
    solid, dashed = _edge_runs(out, 180, 20, 120), _edge_runs(out, 180, 160, 260)
    assert solid.all()
    assert 0.3 < dashed.mean() < 0.7  # about as much dash as gap
    assert dashed[0] and not dashed[6]  # a dash starts at the corner, a gap follows (4 px dashes at width 1)
    left_edge = np.all(out[100:181, 160] == PALETTE[0], axis=1)
    assert 0.3 < left_edge.mean() < 0.7  # the sides are dashed too


def test_draw_detections_styles_follow_the_threshold_filter():
    boxes = _detections([[20, 100, 120, 180], [160, 100, 260, 180]], [0.2, 0.9])
    out = draw_detections(_canvas(), boxes, styles=["solid", "dashed"], threshold=0.5)
    assert not _edge_runs(out, 180, 20, 120).any()  # the weak solid box is hidden
    assert 0.3 < _edge_runs(out, 180, 160, 260).mean() < 0.7  # the kept box is still dashed


@pytest.mark.parametrize(
    ("styles", "match"), [(["solid"], "one entry per detection"), (["solid", "dotted"], "dotted")]
)
def test_draw_detections_refuses_bad_styles(styles, match):
    boxes = _detections([[20, 100, 120, 180], [160, 100, 260, 180]], [0.9, 0.5])
    with pytest.raises(ValueError, match=match):
        draw_detections(_canvas(), boxes, styles=styles)


def _tag_pixels(out, colour):
    return np.all(out == colour, axis=2)


def test_nested_boxes_of_one_fracture_get_labels_that_do_not_overlap():
    """Three nested boxes on one fracture: three separate tags, each a full tag-coloured rectangle."""
    from bonefrac.imaging.render import LabelledBox, draw_boxes

    canvas = _canvas(400, 600)
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    boxes = [
        LabelledBox((200, 200, 400, 350), "fractured 0.31", colours[0]),
        LabelledBox((203, 202, 398, 348), "fractured 0.52", colours[1]),
        LabelledBox((210, 210, 390, 340), "fractured 0.87", colours[2]),
    ]
    out = draw_boxes(canvas, boxes)
    for colour in colours:
        rows, cols = np.nonzero(_tag_pixels(out, colour))
        assert rows.size > 0
    # no tag covers another: each colour's tag is its own band of rows, full height
    bands = sorted(_tag_band(out, colour) for colour in colours)
    assert all(a[1] < b[0] for a, b in zip(bands, bands[1:], strict=False))
    assert max(b - a for a, b in bands) - min(b - a for a, b in bands) <= 1  # all whole


def _tag_band(out, colour):
    """(first, last) row of the longest run of rows where `colour` fills more than 40 pixels (a tag)."""
    rows = np.flatnonzero(_tag_pixels(out, colour).sum(axis=1) > 40)
    runs = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    longest = max(runs, key=len)
    return int(longest[0]), int(longest[-1])


def test_draw_detections_labels_of_nested_duplicates_do_not_overlap():
    out = draw_detections(
        _canvas(400, 600),
        _detections([[200, 200, 400, 350], [202, 201, 399, 349]], [0.9, 0.4], classes=[0, 1]),
    )
    red, orange = (_tag_band(out, PALETTE[c]) for c in (0, 1))
    assert red[1] < orange[0] or orange[1] < red[0]
    assert abs((red[1] - red[0]) - (orange[1] - orange[0])) <= 1  # both whole (an outline row may join one)
