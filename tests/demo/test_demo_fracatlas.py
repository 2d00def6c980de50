import pytest
from demo_helpers import EXPECTED, ROWS

from bonefrac.demo.folder import read_demo_manifest
from bonefrac.demo.fracatlas import (
    DEFAULT_LOCATION,
    MetadataRow,
    fracatlas_location,
    pick,
    read_test_rows,
    write_fracatlas_demo,
)
from bonefrac.errors import ConfigError, DatasetError


def _row(image_id, region, fractured, mixed=False):
    return MetadataRow(image_id=image_id, fractured=fractured, regions=frozenset({region}), mixed=mixed)


def test_pick_takes_per_region_the_first_agreeing_image_by_id():
    rows = sorted(
        [
            _row("IMG2.jpg", "hip", True),
            _row("IMG1.jpg", "hip", True),  # disagrees with its label (no box): skipped
            _row("IMG3.jpg", "hip", True),
            _row("IMG4.jpg", "shoulder", True, mixed=True),  # mixed: not a shoulder example
            _row("IMG5.jpg", "leg", False),
            _row("IMG6.jpg", "hand", False),
        ],
        key=lambda r: r.image_id,
    )
    boxes = {"IMG2.jpg": 1, "IMG3.jpg": 3, "IMG4.jpg": 1}
    chosen = pick(rows, boxes)
    assert [(p.row.image_id, p.region, p.boxes) for p in chosen] == [
        ("IMG2.jpg", "hip", 1),
        ("IMG6.jpg", "hand", 0),
        ("IMG5.jpg", "leg", 0),
    ]


def test_pick_never_takes_an_image_twice():
    both = MetadataRow(image_id="IMG1.jpg", fractured=False, regions=frozenset({"hand", "leg"}), mixed=True)
    chosen = pick([both, _row("IMG2.jpg", "leg", False)], {})
    assert [(p.row.image_id, p.region) for p in chosen] == [("IMG1.jpg", "hand"), ("IMG2.jpg", "leg")]


def test_read_test_rows_keeps_test_images_sorted(fake_fracatlas):
    rows = read_test_rows(fake_fracatlas)
    ids = [r.image_id for r in rows]
    assert ids == sorted(r[0] for r in ROWS if r[0] != "IMG0000010.jpg")
    assert rows[0] == MetadataRow("IMG0003300.jpg", fractured=True, regions=frozenset({"hand"}), mixed=False)


def test_write_copies_the_picked_images_and_labels_unchanged_with_credit(fake_fracatlas, tmp_path):
    out = tmp_path / "demo"
    manifest = write_fracatlas_demo(fake_fracatlas, out)
    assert manifest.kind == "fracatlas" and [i.file for i in manifest.images] == EXPECTED
    assert "Abedeen" in manifest.credit and "Sci Data 10, 521 (2023)" in manifest.credit
    assert "CC BY 4.0" in manifest.credit
    for image in manifest.images:
        source = fake_fracatlas / "images" / "test" / image.file
        assert (out / image.file).read_bytes() == source.read_bytes()
        label = fake_fracatlas / "labels" / "test" / image.file.replace(".jpg", ".txt")
        assert (out / image.label).read_bytes() == label.read_bytes()
    assert [i.boxes for i in manifest.images] == [1, 2, 0, 0]
    assert read_demo_manifest(out) == manifest
    readme = (out / "README.md").read_text()
    assert "CC BY 4.0" in readme and all(f"| {name} |" in readme for name in EXPECTED)


def test_write_refuses_a_folder_that_is_not_fracatlas(tmp_path):
    (tmp_path / "images" / "test").mkdir(parents=True)
    with pytest.raises(DatasetError, match="lacks labels/test, original_metadata/dataset.csv"):
        write_fracatlas_demo(tmp_path, tmp_path / "demo")


def test_write_never_writes_inside_fracatlas(fake_fracatlas):
    with pytest.raises(ConfigError, match="must lie outside FracAtlas"):
        write_fracatlas_demo(fake_fracatlas, fake_fracatlas / "demo")
    assert not (fake_fracatlas / "demo").exists()


def test_location_is_the_environment_variable_else_beside_the_checkout(tmp_path):
    assert fracatlas_location({"BONEFRAC_FRACATLAS": "/data/fa"}, tmp_path).as_posix() == "/data/fa"
    assert fracatlas_location({"BONEFRAC_FRACATLAS": "fa"}, tmp_path) == tmp_path / "fa"
    assert fracatlas_location({}, tmp_path) == tmp_path / DEFAULT_LOCATION
    assert DEFAULT_LOCATION.as_posix() == "../shared/data/fracatlas"


@pytest.mark.fracatlas
def test_real_fracatlas_gives_the_same_five_credited_test_images(fracatlas_yaml, tmp_path):
    root = fracatlas_yaml.parent
    manifest = write_fracatlas_demo(root, tmp_path / "demo")
    assert [(i.file, i.note, i.boxes) for i in manifest.images] == [
        ("IMG0003301.jpg", "hand, fractured", 1),
        ("IMG0003297.jpg", "leg, fractured", 1),
        ("IMG0003341.jpg", "hip, fractured", 2),
        ("IMG0003296.jpg", "hand, no fracture", 0),
        ("IMG0003299.jpg", "leg, no fracture", 0),
    ]
    for image in manifest.images:
        assert (tmp_path / "demo" / image.file).read_bytes() == (
            root / "images" / "test" / image.file
        ).read_bytes()
