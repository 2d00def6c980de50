import numpy as np
import pytest
from PIL import Image

from bonefrac.demo.folder import read_demo_manifest
from bonefrac.demo.synthetic import FRACTURES_PER_IMAGE, write_synthetic_demo
from bonefrac.errors import ConfigError
from bonefrac.imaging.sniff import sniff_format


def test_synthetic_demo_is_labelled_synthetic_everywhere(tmp_path):
    out = tmp_path / "demo"
    manifest = write_synthetic_demo(out, seed=0, size=128)
    assert manifest.kind == "synthetic" and manifest.credit is None
    assert "not real patients" in manifest.source
    images = sorted(p for p in out.iterdir() if p.suffix == ".png")
    assert [p.name for p in images] == [f"synthetic_{k:02d}.png" for k in range(1, 6)]
    readme = (out / "README.md").read_text()
    assert readme.startswith("# SYNTHETIC demo images") and "not real patients" in readme
    assert read_demo_manifest(out) == manifest


def test_synthetic_demo_labels_match_the_plan_and_the_pixels(tmp_path):
    manifest = write_synthetic_demo(tmp_path, seed=0, size=128)
    assert [i.boxes for i in manifest.images] == list(FRACTURES_PER_IMAGE)
    for image in manifest.images:
        lines = (tmp_path / image.label).read_text().splitlines()
        assert len(lines) == image.boxes
        for line in lines:
            cls, *coords = line.split()
            assert cls == "0" and all(0.0 < float(v) <= 1.0 for v in coords)
        path = tmp_path / image.file
        assert sniff_format(path.read_bytes()[:16]) == "png"
        pixels = np.asarray(Image.open(path))
        assert pixels.shape == (128, 128) and pixels.std() > 10


def test_synthetic_demo_is_deterministic_for_a_seed(tmp_path):
    def digest(folder):
        return {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    write_synthetic_demo(tmp_path / "a", seed=1, size=96)
    write_synthetic_demo(tmp_path / "b", seed=1, size=96)
    write_synthetic_demo(tmp_path / "c", seed=2, size=96)
    assert digest(tmp_path / "a") == digest(tmp_path / "b") != digest(tmp_path / "c")


def test_synthetic_demo_refuses_a_silly_size(tmp_path):
    with pytest.raises(ConfigError, match="size must be in 64..2048 pixels, got 8"):
        write_synthetic_demo(tmp_path, size=8)
