"""The copy search: planted copies of every kind are found and confirmed; different radiographs never are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_helpers import jpeg_bytes, radiograph
from PIL import Image

from bonefrac.data import copies
from bonefrac.data.duplicates import label_disagreement
from bonefrac.data.image_checks import ImageScan, scan_image
from bonefrac.data.label_checks import LabelScan
from bonefrac.data.synth import COPY_KINDS, planted_copy

SIDE = 256  # keypoints need some pixels; radiographs are far larger than this


# kind -> words its description must hold
WORDS = {
    "resized": "re",
    "mirrored": "mirrored",
    "turned": "turned 90 degrees",
    "upside_down": "turned 180 degrees",
    "rotated": "rotated 9 degrees",
    "sheared": "sheared",
    "cropped": "zoomed or cropped",
    "padded": "padded",
    "brighter": "",
    "gamma": "",
    "rotated_sheared_and_brighter": "sheared",
    "mirrored_and_rotated": "mirrored",
}


def _scan(path: Path, image: Image.Image | None = None, data: bytes | None = None) -> ImageScan:
    if data is None:
        assert image is not None
        data = jpeg_bytes(image.convert("L"), quality=90)
    path.write_bytes(data)
    return scan_image(path)


def _with_distractors(tmp_path: Path, copy: ImageScan, original: ImageScan) -> list[ImageScan]:
    others = [_scan(tmp_path / f"other_{i}.jpg", radiograph(200 + i, SIDE)) for i in range(6)]
    return [original, *others, copy]


def test_every_copy_kind_is_tested():
    assert set(WORDS) == set(COPY_KINDS)


@pytest.mark.parametrize("kind", sorted(COPY_KINDS))
def test_a_planted_copy_of_each_kind_is_found_and_nothing_else(tmp_path, kind):
    source = radiograph(100, SIDE)
    original = _scan(tmp_path / "original.png", data=_png(source))
    copy = _scan(tmp_path / f"{kind}.jpg", planted_copy(source, kind))
    scans = _with_distractors(tmp_path, copy, original)
    matches = copies.find_copies(scans, workers=1)
    assert [(m.a, m.b) for m in matches] == [(0, len(scans) - 1)]
    assert WORDS[kind] in matches[0].how


def test_a_truncated_copy_is_found_by_the_rows_it_kept(tmp_path):
    source = radiograph(101, SIDE)
    original = _scan(tmp_path / "original.png", data=_png(source))
    whole = jpeg_bytes(source, quality=95)
    copy = _scan(tmp_path / "truncated.jpg", data=whole[: len(whole) * 55 // 100])
    assert copy.status == "truncated" and copy.valid_rows < copy.height * 0.8
    matches = copies.find_copies(_with_distractors(tmp_path, copy, original), workers=1)
    assert [(m.a, m.b, m.how) for m in matches] == [(0, 7, "truncated")]


def test_different_radiographs_are_never_copies(tmp_path):
    scans = [_scan(tmp_path / f"r{i}.jpg", radiograph(300 + i, SIDE)) for i in range(12)]
    assert copies.find_copies(scans, workers=1) == []


def test_the_graph_index_finds_what_the_exact_search_finds(tmp_path, monkeypatch):
    source = radiograph(102, SIDE)
    original = _scan(tmp_path / "original.png", data=_png(source))
    copy = _scan(tmp_path / "mirrored.jpg", planted_copy(source, "mirrored"))
    scans = _with_distractors(tmp_path, copy, original)
    thumbs = [copies._thumb(s) for s in scans]
    exact = copies.retrieve_candidates(thumbs)
    monkeypatch.setattr(copies, "EXACT_SEARCH_MAX", 0)
    graph = copies.retrieve_candidates(thumbs)
    assert (0, len(scans) - 1) in exact and graph[(0, len(scans) - 1)] == exact[(0, len(scans) - 1)]


def _png(image: Image.Image) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _label(*boxes: tuple[float, ...]) -> LabelScan:
    return LabelScan(Path("x.txt"), True, np.array(boxes, dtype=float).reshape(-1, 5))


def test_labels_of_a_mirrored_copy_are_compared_in_one_frame(tmp_path):
    source = radiograph(103, SIDE)
    original = _scan(tmp_path / "original.png", data=_png(source))
    copy = _scan(tmp_path / "mirrored.jpg", planted_copy(source, "mirrored"))
    (match,) = copies.find_copies(_with_distractors(tmp_path, copy, original), workers=1)
    left = _label((0, 0.25, 0.4, 0.1, 0.2))
    assert label_disagreement(left, _label((0, 0.75, 0.4, 0.1, 0.2)), match.a_to_b) is None
    reason = label_disagreement(left, _label((0, 0.25, 0.4, 0.1, 0.2)), match.a_to_b)
    assert reason is not None and "IoU" in reason


def test_labels_of_a_cropped_copy_follow_the_transform_the_keypoints_found(tmp_path):
    source = radiograph(104, SIDE)
    original = _scan(tmp_path / "original.png", data=_png(source))
    copy = _scan(tmp_path / "cropped.jpg", source.crop((26, 26, 230, 230)).resize(source.size))
    (match,) = copies.find_copies(_with_distractors(tmp_path, copy, original), workers=1)
    assert match.inliers >= copies.MIN_INLIERS
    # a 10 % crop on each side zooms by 1/0.8: a box at the centre keeps its centre and grows
    box = _label((0, 0.5, 0.5, 0.2, 0.2))
    assert label_disagreement(box, _label((0, 0.5, 0.5, 0.25, 0.25)), match.a_to_b) is None
    assert label_disagreement(box, _label((0, 0.2, 0.2, 0.25, 0.25)), match.a_to_b) is not None
