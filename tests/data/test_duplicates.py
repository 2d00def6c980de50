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


def test_near_copies_span_and_stay_within_splits(tmp_path):
    original = _scan(tmp_path, "o.png", radiograph(3, 128))
    copy = _scan(tmp_path, "c.jpg", data=jpeg_bytes(radiograph(3, 128).resize((100, 100)), quality=80))
    twin = _scan(tmp_path, "t.jpg", data=jpeg_bytes(radiograph(3, 128).resize((90, 90)), quality=85))
    other = _scan(tmp_path, "x.png", radiograph(4, 128))
    pairs = dup.near_copies({"train": [original, twin], "val": [copy, other]}, workers=1)
    named = {(p.a.name, p.b.name, p.split_a, p.split_b) for p in pairs}
    assert named == {
        ("o.png", "t.jpg", "train", "train"),
        ("o.png", "c.jpg", "train", "val"),
        ("t.jpg", "c.jpg", "train", "val"),
    }
    assert all(not p.exact and p.correlation >= 0.98 for p in pairs)


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
