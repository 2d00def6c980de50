import hashlib

import numpy as np
import pytest
from PIL import Image

from bonefrac.data.synth import write_synthetic_dataset
from bonefrac.errors import ConfigError


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_synth_is_deterministic_for_a_seed(tmp_path):
    write_synthetic_dataset(tmp_path / "a", images=9, seed=3, size=64)
    write_synthetic_dataset(tmp_path / "b", images=9, seed=3, size=64)
    write_synthetic_dataset(tmp_path / "c", images=9, seed=4, size=64)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")


def test_synth_writes_valid_yolo_labels_and_backgrounds(tmp_path):
    summary = write_synthetic_dataset(tmp_path, images=40, seed=1, size=96, background_share=0.3)
    assert sum(summary.images.values()) == 40 and 0 < summary.backgrounds < 40
    labels = list((tmp_path / "labels").rglob("*.txt"))
    assert len(labels) == 40
    for label in labels:
        for line in label.read_text().splitlines():
            cls, *coords = line.split()
            assert cls == "0" and all(0.0 <= float(v) <= 1.0 for v in coords)
    image = np.asarray(Image.open(next((tmp_path / "images" / "train").glob("*.png"))))
    assert image.shape == (96, 96) and image.dtype == np.uint8 and image.std() > 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"images": 2}, "at least 3"), ({"size": 8}, "32..4096"), ({"background_share": 1.5}, "0..1")],
)
def test_synth_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        write_synthetic_dataset(tmp_path, **kwargs)
