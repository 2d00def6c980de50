import json

import pytest

from bonefrac.data.subsets import SubsetOptions, write_subset
from bonefrac.data.yolo_format import label_path_for, load_dataset, read_label_lines
from bonefrac.errors import ConfigError


def _labels(spec, split):
    """image name -> label lines, read through bonefrac's own loader and the YOLO convention."""
    return {p.name: read_label_lines(label_path_for(p)) for p in spec.images(split)}


def test_subset_drops_a_class_and_turns_its_boxes_into_background(two_class_dataset, tmp_path):
    out = write_subset(
        load_dataset(two_class_dataset), tmp_path / "s", SubsetOptions(drop_classes=("No_fracture",))
    )
    spec = load_dataset(out)
    assert spec.class_names == ("fractured",)
    labels = _labels(spec, "train")
    assert labels["train_0.png"] == ["0 0.500000 0.500000 0.200000 0.200000"]
    assert labels["train_1.png"] == [] and labels["train_2.png"] == ["0 0.400000 0.400000 0.100000 0.100000"]
    # the images are links into the original data set, the labels are the subset's own
    image = spec.images("train")[0]
    assert image.is_symlink() and image.parent == tmp_path / "s" / "images" / "train"
    assert label_path_for(image).parent == tmp_path / "s" / "labels" / "train"


def test_subset_positive_only_after_dropping(two_class_dataset, tmp_path):
    options = SubsetOptions(drop_classes=("1",), positive_only=True)
    spec = load_dataset(write_subset(load_dataset(two_class_dataset), tmp_path / "s", options))
    assert [p.name for p in spec.images("train")] == ["train_0.png", "train_2.png"]
    assert [p.name for p in spec.images("val")] == ["val_0.png"]


def test_subset_merges_classes(two_class_dataset, tmp_path):
    spec = load_dataset(
        write_subset(load_dataset(two_class_dataset), tmp_path / "s", SubsetOptions(merge_classes="any"))
    )
    assert spec.class_names == ("any",)
    assert {line.split()[0] for lines in _labels(spec, "train").values() for line in lines} == {"0"}
    assert sum(len(v) for v in _labels(spec, "train").values()) == 4


def test_subset_background_ratio_is_seeded_and_can_spare_eval_splits(synthetic_dataset, tmp_path):
    source = load_dataset(synthetic_dataset)
    options = SubsetOptions(background_ratio=0.5, seed=3, filter_splits=("train",))
    first = load_dataset(write_subset(source, tmp_path / "a", options))
    second = load_dataset(write_subset(source, tmp_path / "b", options))
    assert [p.name for p in first.images("train")] == [p.name for p in second.images("train")]
    record = json.loads((tmp_path / "a" / "subset.json").read_text())["splits"]
    source_bg = sum(1 for p in source.images("train") if not read_label_lines(label_path_for(p)))
    assert record["train"]["backgrounds"] == round(source_bg * 0.5)
    assert record["val"]["images"] == len(source.images("val"))


def test_subset_drops_eval_images_that_duplicate_train(faulty_dataset, tmp_path):
    options = SubsetOptions(drop_duplicates_of_train=True)
    spec = load_dataset(
        write_subset(load_dataset(faulty_dataset.yaml_path), tmp_path / "s", options, workers=1)
    )
    assert [p.name for p in spec.images("val")] == ["val_own.png"]


def test_ultralytics_reads_the_rewritten_labels(two_class_dataset, tmp_path):
    pytest.importorskip("ultralytics")
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    out = write_subset(
        load_dataset(two_class_dataset), tmp_path / "s", SubsetOptions(drop_classes=("No_fracture",))
    )
    data = check_det_dataset(str(out))
    dataset = YOLODataset(img_path=data["train"], data=data, task="detect", augment=False, imgsz=64)
    assert all(str(tmp_path / "s" / "labels") in f for f in dataset.label_files)
    assert sorted(len(label["cls"]) for label in dataset.labels) == [0, 0, 0, 1, 1]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (SubsetOptions(drop_classes=("elbow",)), "'elbow' is not a class"),
        (SubsetOptions(drop_classes=("fractured", "No_fracture")), "removes every class"),
        (SubsetOptions(positive_only=True, background_ratio=0.5), "pick one"),
        (SubsetOptions(filter_splits=("test",)), "filter_splits names ['test']"),
    ],
)
def test_subset_rejects_contradictory_options(two_class_dataset, tmp_path, options, fragment):
    with pytest.raises(ConfigError, match=None) as error:
        write_subset(load_dataset(two_class_dataset), tmp_path / "s", options)
    assert fragment in str(error.value)


def test_subset_refuses_a_foreign_non_empty_folder_but_replaces_its_own(two_class_dataset, tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.md").write_text("mine")
    spec = load_dataset(two_class_dataset)
    with pytest.raises(ConfigError, match="not empty"):
        write_subset(spec, tmp_path / "busy", SubsetOptions(), overwrite=True)
    write_subset(spec, tmp_path / "s", SubsetOptions())
    again = write_subset(spec, tmp_path / "s", SubsetOptions(positive_only=True), overwrite=True)
    assert len(load_dataset(again).images("train")) == 3


def test_subset_options_reject_unknown_keys_and_bad_ratio():
    from bonefrac.config import build_config

    with pytest.raises(ConfigError, match="did you mean 'positive_only'"):
        build_config(SubsetOptions, {"positive_onyl": True}, "test")
    with pytest.raises(ConfigError, match="background_ratio"):
        build_config(SubsetOptions, {"background_ratio": 1.5}, "test")
