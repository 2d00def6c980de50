"""bonefrac.ui.view: window/level over display values and zoom as a crop, coloured boxes kept."""

import numpy as np
import pytest

from bonefrac.ui.view import View, apply_view, window_lut


def test_the_full_window_changes_nothing():
    ramp = np.tile(np.arange(256, dtype=np.uint8), (4, 1))
    assert View().is_full
    assert np.array_equal(apply_view(ramp, View()), ramp)


def test_a_narrow_window_stretches_its_range_and_clips_the_rest():
    table = window_lut(100, 21)  # values 90..110 span black to white
    assert table[80] == 0 and table[89] == 0
    assert table[120] == 255 and table[111] == 255
    assert table[100] == 134  # DICOM LINEAR: ((100 - 99.5) / 20 + 0.5) * 255, about mid-grey
    assert np.all(np.diff(table.astype(int)) >= 0)


def test_zoom_crops_around_the_point_and_windowing_keeps_coloured_pixels():
    pixels = np.full((100, 200, 3), 100, np.uint8)
    pixels[10, 10] = (255, 0, 0)  # a box outline
    view = View(window_centre=100, window_width=21, zoom=2, centre_x=0, centre_y=0)
    out = apply_view(pixels, view)
    assert out.shape == (50, 100, 3)  # half of each side, kept inside the image at the corner
    assert tuple(out[10, 10]) == (255, 0, 0)
    assert tuple(out[20, 20]) == (134, 134, 134)
    assert not view.is_full and "zoom 2x" in view.describe()


@pytest.mark.parametrize(
    ("fields", "match"),
    [({"window_centre": 300}, "window centre"), ({"window_width": 1}, "window width"), ({"zoom": 9}, "zoom")],
)
def test_bad_views_are_refused(fields, match):
    with pytest.raises(ValueError, match=match):
        View(**fields)
