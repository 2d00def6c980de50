import numpy as np
import pytest
from data_helpers import jpeg_bytes, radiograph

from bonefrac.data import duplicates as dup
from bonefrac.data.image_checks import scan_image
from bonefrac.data.label_checks import LabelScan


def _scan(tmp_path, name, image=None, data=None):
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    else:
        image.save(path)
    return scan_image(path)


def test_exact_duplicate_groups_span_splits(tmp_path):
    a = _scan(tmp_path, "a.png", radiograph(0))
    b = _scan(tmp_path, "b.png", radiograph(0))
    c = _scan(tmp_path, "c.png", radiograph(1))
    groups = dup.exact_duplicate_groups({"train": [a, c], "val": [b]})
    assert [[(s, x.path.name) for s, x in g] for g in groups] == [[("train", "a.png"), ("val", "b.png")]]
    assert dup.pairs_in_group(groups[0])[0].exact


def test_resized_reencoded_copy_is_a_confirmed_near_duplicate(tmp_path):
    original = _scan(tmp_path, "o.png", radiograph(3, 128))
    copy = _scan(tmp_path, "c.jpg", data=jpeg_bytes(radiograph(3, 128).resize((100, 100)), quality=80))
    other = _scan(tmp_path, "x.png", radiograph(4, 128))
    candidates = dup.near_duplicate_candidates({"train": [original], "val": [copy, other]})
    confirmed = dup.confirm_near_duplicates(candidates)
    assert [(p.a.name, p.b.name) for p in confirmed] == [("o.png", "c.jpg")]
    assert confirmed[0].correlation >= dup.MIN_CORRELATION and not confirmed[0].exact


def test_pixel_correlation_rejects_a_different_radiograph(tmp_path):
    a = _scan(tmp_path, "a.png", radiograph(5, 128))
    b = _scan(tmp_path, "b.png", radiograph(6, 128))
    assert dup.pixel_correlation(a, b) < dup.MIN_CORRELATION


def test_pixel_correlation_ignores_rows_a_truncated_copy_lost(tmp_path):
    image = radiograph(7, 256).convert("RGB")
    original = _scan(tmp_path, "o.png", image)
    data = jpeg_bytes(image, quality=95)
    truncated = _scan(tmp_path, "t.jpg", data=data[: int(len(data) * 0.6)])
    assert truncated.status == "truncated" and truncated.valid_rows < truncated.height
    assert dup.pixel_correlation(original, truncated) >= dup.MIN_CORRELATION


def _labels(*boxes):
    return LabelScan(__import__("pathlib").Path("x.txt"), True, np.array(boxes, dtype=float).reshape(-1, 5))


@pytest.mark.parametrize(
    ("a", "b", "fragment"),
    [
        ([(0, 0.5, 0.5, 0.2, 0.2)], [(0, 0.51, 0.5, 0.2, 0.2)], None),
        ([(0, 0.5, 0.5, 0.2, 0.2)], [], "1 vs 0 boxes"),
        ([(0, 0.5, 0.5, 0.2, 0.2)], [(1, 0.5, 0.5, 0.2, 0.2)], "no counterpart of that class"),
        ([(0, 0.5, 0.5, 0.2, 0.2)], [(0, 0.2, 0.2, 0.1, 0.1)], "best 0.00"),
    ],
)
def test_label_disagreement(a, b, fragment):
    reason = dup.label_disagreement(_labels(*a), _labels(*b))
    assert reason is None if fragment is None else fragment in reason


def test_copy_groups_join_chains_of_pairs():
    from pathlib import Path

    def pair(a, b):
        return dup.DuplicatePair(Path(a), Path(b), "train", "val", exact=False)

    groups = dup.copy_groups([pair("c", "b"), pair("b", "a"), pair("x", "y")])
    assert groups == [(Path("a"), Path("b"), Path("c")), (Path("x"), Path("y"))]
