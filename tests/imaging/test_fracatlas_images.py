"""Real radiographs: FracAtlas JPEGs decode exactly as OpenCV (and so ultralytics training) reads them."""

import numpy as np
import pytest

from bonefrac.imaging.io import load_image

pytestmark = pytest.mark.fracatlas


def test_fracatlas_sample_matches_opencv_including_exif_and_truncated(fracatlas_yaml):
    cv2 = pytest.importorskip("cv2")
    images = sorted((fracatlas_yaml.parent / "images").rglob("*.jpg"))
    sample = images[::50] + [p for p in images if p.name in {"IMG0004028.jpg", "IMG0004029.jpg"}]
    for path in sample:
        radiograph = load_image(path, allow_truncated=True)
        expected = cv2.imread(str(path))[..., ::-1]
        assert np.array_equal(radiograph.pixels, expected), path.name
