from __future__ import annotations

from pathlib import Path

import pytest

from bonefrac.errors import EvaluationError
from bonefrac.evaluate.metadata import group_images, parse_column_spec

CSV = """image_id,hand,leg,hip,frontal,lateral,site
IMG1.jpg,1,0,0,1,0,A
IMG2.jpg,0,1,0,0,1,B
IMG3.jpg,1,0,1,1,1,A
IMG4.jpg,0,0,0,1,0,
"""
IMAGES = [Path(f"/x/images/test/IMG{i}.jpg") for i in (1, 2, 3, 4, 5)]


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "dataset.csv"
    path.write_text(CSV)
    return path


@pytest.mark.parametrize(
    ("spec", "name", "groups"),
    [
        ("site", "site", ("A", "B", "A", "empty", "unknown")),
        ("region=hand,leg,hip", "region", ("hand", "leg", "hand+hip", "none", "unknown")),
        (
            "frontal,lateral",
            "frontal+lateral",
            ("frontal", "lateral", "frontal+lateral", "frontal", "unknown"),
        ),
    ],
)
def test_group_images(csv_path, spec, name, groups):
    grouping = group_images(csv_path, spec, IMAGES)
    assert grouping.name == name and grouping.groups == groups and grouping.unmatched == 1
    masks = grouping.masks()
    assert sum(int(m.sum()) for m in masks.values()) == len(IMAGES)


def test_group_images_matches_stems(tmp_path):
    path = tmp_path / "meta.csv"
    path.write_text("name,view\nIMG1,ap\nIMG2,lat\n")
    assert group_images(path, "view", IMAGES[:2]).groups == ("ap", "lat")


def test_group_images_unknown_column_suggests(csv_path):
    with pytest.raises(EvaluationError, match="did you mean 'lateral'"):
        group_images(csv_path, "laterl", IMAGES)


def test_group_images_no_match_at_all(csv_path):
    with pytest.raises(EvaluationError, match="no image of the split has a row"):
        group_images(csv_path, "site", [Path("/x/other.png")])


def test_group_images_missing_csv(tmp_path):
    with pytest.raises(EvaluationError, match="not found"):
        group_images(tmp_path / "nope.csv", "site", IMAGES)


@pytest.mark.parametrize("spec", ["", "name=", " , "])
def test_parse_column_spec_rejects_empty(spec):
    with pytest.raises(EvaluationError):
        parse_column_spec(spec)
