from pathlib import Path

import pytest

from bonefrac.data.yolo_format import label_path_for, load_dataset
from bonefrac.errors import DatasetError


def _make_images(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not decoded here")


def test_label_path_replaces_last_images_folder():
    assert label_path_for(Path("/d/images/x/images/train/a.jpg")) == Path("/d/images/x/labels/train/a.txt")


def test_folders_relative_to_yaml_and_names_list(tmp_path):
    _make_images(tmp_path / "images" / "train", ["a.jpg", "b.png"])
    _make_images(tmp_path / "images" / "val", ["c.jpg"])
    (tmp_path / "data.yaml").write_text("train: images/train\nval: images/val\nnames: [fractured]\n")
    spec = load_dataset(tmp_path / "data.yaml")
    assert spec.class_names == ("fractured",)
    assert [p.name for p in spec.images("train")] == ["a.jpg", "b.png"]
    assert "test" not in spec.splits


def test_path_key_and_names_mapping(tmp_path):
    root = tmp_path / "ds"
    _make_images(root / "images" / "train", ["a.jpg"])
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "data.yaml").write_text("path: ../ds\ntrain: images/train\nnames: {0: a, 1: b}\n")
    spec = load_dataset(tmp_path / "cfg" / "data.yaml")
    assert spec.root == root.resolve() and spec.class_names == ("a", "b")


def test_txt_lists_resolve_against_their_folder(tmp_path):
    _make_images(tmp_path / "images" / "train", ["a.jpg", "b.jpg"])
    (tmp_path / "train.txt").write_text("./images/train/a.jpg\n\n")
    (tmp_path / "data.yaml").write_text("train: train.txt\nnames: [x]\n")
    assert [p.name for p in load_dataset(tmp_path / "data.yaml").images("train")] == ["a.jpg"]


def test_roboflow_export_layout(tmp_path):
    for split in ("train", "valid", "test"):
        _make_images(tmp_path / split / "images", [f"{split}.jpg"])
    (tmp_path / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\nnc: 1\nnames: ['fracture']\n"
    )
    spec = load_dataset(tmp_path / "data.yaml")
    assert {k: [p.name for p in v] for k, v in spec.splits.items()} == {
        "train": ["train.jpg"],
        "val": ["valid.jpg"],
        "test": ["test.jpg"],
    }
    assert label_path_for(spec.images("val")[0]) == (tmp_path / "valid" / "labels" / "valid.txt").resolve()


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("train: images/train\n", "has no 'names'"),
        ("names: [a]\n", "no split found"),
        ("train: nowhere\nnames: [a]\n", "neither a folder of images"),
        ("train: images/train\nnames: [a]\nnc: 2\n", "nc is 2 but 'names' lists 1"),
        ("train: images/train\nnames: {0: a, 2: b}\n", "without gaps"),
        ("- just\n- a list\n", "must be a mapping"),
    ],
)
def test_unreadable_yaml_says_what_is_wrong(tmp_path, yaml_text, message):
    _make_images(tmp_path / "images" / "train", ["a.jpg"])
    (tmp_path / "data.yaml").write_text(yaml_text)
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path / "data.yaml")


def test_missing_yaml(tmp_path):
    with pytest.raises(DatasetError, match="data.yaml not found"):
        load_dataset(tmp_path / "data.yaml")


def test_fingerprint_changes_with_label_content(synthetic_dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(synthetic_dataset.parent, copy)
    before = load_dataset(copy / "data.yaml").fingerprint
    assert before == load_dataset(synthetic_dataset).fingerprint
    label = next((copy / "labels" / "train").glob("*.txt"))
    label.write_text(label.read_text() + "0 0.5 0.5 0.1 0.1\n")
    assert load_dataset(copy / "data.yaml").fingerprint != before


def test_fracatlas_reads_with_all_splits(fracatlas_yaml):
    spec = load_dataset(fracatlas_yaml)
    assert {k: len(v) for k, v in spec.splits.items()} == {"train": 3259, "val": 401, "test": 423}
    assert spec.class_names == ("fractured",)
    positive = load_dataset(fracatlas_yaml.parent / "data_fractured_only.yaml")
    assert {k: len(v) for k, v in positive.splits.items()} == {"train": 574, "val": 82, "test": 61}
