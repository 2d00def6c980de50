import json
from pathlib import Path

import numpy as np
import pytest
from data_helpers import (
    copy_dataset,
    copy_label,
    jpeg_bytes,
    plant_copies,
    radiograph,
    write_augmented_export,
    write_image,
    write_label,
    write_roboflow_export,
)
from PIL import Image

from bonefrac.config import build_config
from bonefrac.data.checks import run_checks
from bonefrac.data.splits import ImageGroup, SplitOptions, assign_groups, method_groups, split_dataset
from bonefrac.data.synth import write_synthetic_dataset
from bonefrac.data.yolo_format import label_path_for, load_dataset, read_label_lines
from bonefrac.errors import ConfigError, DatasetError
from bonefrac.hashing import file_sha256

LEAK_KINDS = {"cross_split_duplicate", "cross_split_near_duplicate"}
ROBOFLOW_PATTERN = r"(.*)\.rf\.[0-9a-f]+"


@pytest.fixture
def planted(synthetic_dataset, tmp_path):
    """The 30-image synthetic set plus an exact copy (train -> val) and a resized JPEG one (train -> test)."""
    yaml_path = copy_dataset(synthetic_dataset, tmp_path / "planted")
    pairs = plant_copies(yaml_path.parent)
    return yaml_path, pairs


def _lists(out: Path) -> dict[str, set[str]]:
    """split -> the image paths its list names."""
    return {p.stem: set(p.read_text().split()) for p in sorted(out.glob("*.txt"))}


def _split_of(lists: dict[str, set[str]], image: Path) -> list[str]:
    return [name for name, images in lists.items() if str(image) in images]


def _leaks(yaml_path: Path) -> list[tuple[str, tuple[str, ...]]]:
    report = run_checks(load_dataset(yaml_path), workers=1).report
    return [(f.kind, f.files) for f in report.findings if f.kind in LEAK_KINDS]


def test_near_duplicate_grouping_keeps_planted_copies_in_one_split(planted, tmp_path):
    yaml_path, (exact, near) = planted
    root = yaml_path.parent
    assert {kind for kind, _ in _leaks(yaml_path)} == LEAK_KINDS  # the source leaks both ways
    for seed in range(4):
        out = tmp_path / f"seed{seed}"
        result = split_dataset(load_dataset(yaml_path), out, SplitOptions(seed=seed), workers=1)
        grouping = result.record["grouping"]
        assert grouping["method"] == "near-duplicates" and grouping["groups"] == 30
        assert grouping["group_sizes"] == {"1": 28, "2": 2} and grouping["merged_by_copies"] == 2
        assert grouping["copy_merges"] == [  # keyed by the first member's path, sorted
            {"key": near[1], "joined": [near[1], near[0]]},
            {"key": exact[0], "joined": list(exact)},
        ]
        lists = _lists(out)
        for original, copy in (exact, near):
            assert len(_split_of(lists, root / original)) == 1
            assert _split_of(lists, root / original) == _split_of(lists, root / copy)
        assert _leaks(out / "data.yaml") == []


def test_near_copies_within_one_source_split_are_kept_together_too(synthetic_dataset, tmp_path):
    """Two copies inside one source split (no leak yet) must still land in one split after the re-split."""
    root = copy_dataset(synthetic_dataset, tmp_path / "src").parent
    original, copy = root / "images/train/synth_00002.png", root / "images/train/resized_00002.jpg"
    with Image.open(original) as image:
        copy.write_bytes(jpeg_bytes(image.resize((100, 100), Image.Resampling.LANCZOS), quality=85))
    copy_label(original, copy)
    assert _leaks(root / "data.yaml") == []
    assert run_checks(load_dataset(root / "data.yaml")).copy_groups == [(copy, original)]
    for seed in range(3):
        out = tmp_path / f"seed{seed}"
        result = split_dataset(load_dataset(root / "data.yaml"), out, SplitOptions(seed=seed), workers=1)
        assert result.record["grouping"]["copy_merges"] == [
            {
                "key": "images/train/resized_00002.jpg",
                "joined": [str(p.relative_to(root)) for p in (copy, original)],
            }
        ]
        lists = _lists(out)
        assert len(_split_of(lists, original)) == 1 and _split_of(lists, original) == _split_of(lists, copy)
        assert _leaks(out / "data.yaml") == []


def test_split_pools_every_image_once_and_keeps_the_original_labels(planted, tmp_path):
    yaml_path, _ = planted
    source = load_dataset(yaml_path)
    result = split_dataset(source, tmp_path / "out", SplitOptions(val=0.2, test=0.2), workers=1)
    spec = load_dataset(result.yaml_paths[0])
    assert spec.class_names == source.class_names and set(spec.splits) == {"train", "val", "test"}
    pooled = sorted(p for images in spec.splits.values() for p in images)
    assert pooled == sorted(p for images in source.splits.values() for p in images)  # 32, each once
    assert len(pooled) == len(set(pooled)) == 32
    for image in pooled:
        assert label_path_for(image).is_file() and "/labels/" in str(label_path_for(image))
    boxes = {s: sum(len(read_label_lines(label_path_for(p))) for p in spec.splits[s]) for s in spec.splits}
    assert {s: result.record["splits"][s]["boxes"] for s in spec.splits} == boxes
    assert result.record["images"] == 32 and result.record["source_fingerprint"] == source.fingerprint
    header = result.yaml_paths[0].read_text().splitlines()[0]
    assert header.startswith(f"# Re-split of {source.yaml_path}")


def test_ultralytics_reads_the_original_labels_of_the_listed_images(two_class_dataset, tmp_path):
    pytest.importorskip("ultralytics")
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    result = split_dataset(load_dataset(two_class_dataset), tmp_path / "s", SplitOptions(val=0.25), workers=1)
    data = check_det_dataset(str(result.yaml_paths[0]))
    assert data["names"] == {0: "fractured", 1: "No_fracture"}
    dataset = YOLODataset(img_path=data["train"], data=data, task="detect", augment=False, imgsz=64)
    source_labels = two_class_dataset.parent / "labels"
    assert len(dataset.label_files) == result.record["splits"]["train"]["images"]
    assert all(f.startswith(str(source_labels)) for f in dataset.label_files)
    assert sum(len(label["cls"]) for label in dataset.labels) == result.record["splits"]["train"]["boxes"]


def test_same_input_and_seed_give_byte_identical_outputs(planted, tmp_path):
    yaml_path, _ = planted
    spec = load_dataset(yaml_path)
    outputs = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        split_dataset(spec, tmp_path / name, SplitOptions(seed=seed, val=0.2, test=0.2), workers=1)
        outputs.append({p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())})
    assert sorted(outputs[0]) == ["data.yaml", "split.json", "test.txt", "train.txt", "val.txt"]
    assert outputs[0] == outputs[1]
    assert outputs[0]["val.txt"] != outputs[2]["val.txt"]  # the seed matters


def test_regex_grouping_puts_each_roboflow_family_in_one_split(tmp_path):
    yaml_path = write_roboflow_export(tmp_path / "rf", families=9, extra_unmatched=2)
    spec = load_dataset(yaml_path)
    assert len(spec.splits["val"]) == 9  # every family is spread over all three source splits
    options = SplitOptions(group_by="regex", pattern=ROBOFLOW_PATTERN, val=0.2, test=0.2)
    result = split_dataset(spec, tmp_path / "out", options, workers=1)
    grouping = result.record["grouping"]
    assert grouping["parameter"] == ROBOFLOW_PATTERN
    assert grouping["groups"] == 11 and grouping["group_sizes"] == {"1": 2, "3": 9}
    assert grouping["unmatched_images"] == 2 and grouping["merged_by_copies"] == 0
    keys = {k for part in result.record["splits"].values() for k in part["group_keys"]}
    assert keys == {f"img{k}_png" for k in range(9)} | {
        "train/images/plain_0.jpg",
        "train/images/plain_1.jpg",
    }
    lists = _lists(tmp_path / "out")
    for k in range(9):
        family = sorted((tmp_path / "rf").glob(f"*/images/img{k}_png.rf.*.jpg"))
        assert len(family) == 3
        where = {name for image in family for name in _split_of(lists, image)}
        assert len(where) == 1, (k, where)
        assert f"img{k}_png" in result.record["splits"][where.pop()]["group_keys"]
    assert _leaks(result.yaml_paths[0]) == []


def test_near_duplicate_grouping_finds_augmented_families_whose_names_say_nothing(tmp_path):
    """Turned, sheared and re-exposed versions of one source, named by a digest, are found by their pixels."""
    yaml_path, families = write_augmented_export(tmp_path / "aug", families=8, singles=4)
    outcome = run_checks(load_dataset(yaml_path), workers=1)
    kinds = {f.kind for f in outcome.report.findings}
    assert "cross_split_near_duplicate" in kinds and "label_conflict" not in kinds  # the moved boxes agree
    result = split_dataset(
        load_dataset(yaml_path), tmp_path / "out", SplitOptions(val=0.2, test=0.2), workers=1
    )
    grouping = result.record["grouping"]
    assert grouping["groups"] == 12 and grouping["group_sizes"] == {"1": 4, "3": 8}
    lists = _lists(tmp_path / "out")
    for family in families:
        where = {name for image in family for name in _split_of(lists, image)}
        assert len(where) == 1, (family, where)
    assert _leaks(result.yaml_paths[0]) == []


def test_regex_key_is_the_first_capture_group_else_the_whole_match(tmp_path):
    yaml_path = write_roboflow_export(tmp_path / "rf", families=3, extra_unmatched=1)
    spec = load_dataset(yaml_path)
    captured = method_groups(spec, SplitOptions(group_by="regex", pattern=r"(img\d)_png"))
    whole = method_groups(spec, SplitOptions(group_by="regex", pattern=r"img\d_png"))
    assert [g.key for g in captured.groups] == ["img0", "img1", "img2", "train/images/plain_0.jpg"]
    assert [g.key for g in whole.groups] == ["img0_png", "img1_png", "img2_png", "train/images/plain_0.jpg"]
    assert [g.images for g in captured.groups] == [g.images for g in whole.groups]
    assert captured.unmatched == whole.unmatched == 1


def test_copies_are_merged_into_regex_groups(tmp_path):
    """A copy of family 0's image saved under family 1's name joins the two families."""
    yaml_path = write_roboflow_export(tmp_path / "rf", families=6)
    root = yaml_path.parent
    source = sorted(root.glob("train/images/img0_png.rf.*.jpg"))[0]
    copy = root / "valid" / "images" / "img1_png.rf.0123abcd.jpg"
    copy.write_bytes(source.read_bytes())
    write_label(copy, read_label_lines(label_path_for(source)))
    options = SplitOptions(group_by="regex", pattern=ROBOFLOW_PATTERN, val=0.2, test=0.2)
    result = split_dataset(load_dataset(yaml_path), tmp_path / "out", options, workers=1)
    grouping = result.record["grouping"]
    assert grouping["merged_by_copies"] == 1 and grouping["groups"] == 5
    assert grouping["copy_merges"] == [{"key": "img0_png", "joined": ["img0_png", "img1_png"]}]
    assert grouping["group_sizes"] == {"3": 4, "7": 1}
    lists = _lists(tmp_path / "out")
    joined = sorted(root.glob("*/images/img[01]_png.rf.*.jpg"))
    assert len({name for image in joined for name in _split_of(lists, image)}) == 1
    assert _leaks(result.yaml_paths[0]) == []


def _patients_csv(spec, path: Path, skip: int = 0, extra: str = "") -> dict[Path, str]:
    """Image i belongs to patient p<i // 3>; even rows give a path below the root, odd ones a file name."""
    images = sorted(p for images in spec.splits.values() for p in images)
    patients = {image: f"p{i // 3}" for i, image in enumerate(images)}
    rows = ["image,group"]
    for i, image in enumerate(images[skip:]):
        reference = image.relative_to(spec.root).as_posix() if i % 2 == 0 else image.name
        rows.append(f"{reference},{patients[image]}")
    path.write_text("\n".join(rows) + "\n" + extra)
    return patients


def test_csv_grouping_keeps_each_patient_in_one_split(synthetic_dataset, tmp_path):
    spec = load_dataset(synthetic_dataset)
    patients = _patients_csv(spec, tmp_path / "patients.csv")
    options = SplitOptions(group_by="csv", groups_csv=tmp_path / "patients.csv", val=0.2, test=0.2)
    result = split_dataset(spec, tmp_path / "out", options, workers=1)
    assert result.record["grouping"]["groups"] == 10
    assert result.record["grouping"]["groups_csv_sha256"] == file_sha256(tmp_path / "patients.csv")
    assert result.record["grouping"]["group_sizes"] == {"3": 10}
    lists = _lists(tmp_path / "out")
    for patient in set(patients.values()):
        images = [image for image, p in patients.items() if p == patient]
        where = {name for image in images for name in _split_of(lists, image)}
        assert len(where) == 1 and patient in result.record["splits"][where.pop()]["group_keys"]


@pytest.mark.parametrize(
    ("skip", "extra", "header", "fragment"),
    [
        (2, "", None, "gives no group for 2 of 30 images: images/test/synth_00024.png"),
        (0, "images/train/absent.png,p99\n", None, "1 rows name images that are not in the data set"),
        (0, "synth_00000.png,p42\n", None, "images given two different groups: synth_00000.png"),
        (0, "", "file,patient", "must name the columns 'image'"),
    ],
)
def test_csv_grouping_refuses_partial_or_unknown_rows(
    synthetic_dataset, tmp_path, skip, extra, header, fragment
):
    spec = load_dataset(synthetic_dataset)
    csv_path = tmp_path / "patients.csv"
    _patients_csv(spec, csv_path, skip=skip, extra=extra)
    if header:
        csv_path.write_text(csv_path.read_text().replace("image,group", header, 1))
    options = SplitOptions(group_by="csv", groups_csv=csv_path)
    with pytest.raises(ConfigError) as error:
        split_dataset(spec, tmp_path / "out", options, workers=1)
    assert fragment in str(error.value)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def _two_class_synthetic(root: Path, images: int, seed: int) -> Path:
    """The generator's data set with every third positive image's boxes moved to class 1 (No_fracture)."""
    yaml_path = write_synthetic_dataset(root, images=images, seed=seed, size=32).yaml_path
    positives = sorted(p for p in root.glob("labels/*/*.txt") if p.read_text().strip())
    for label in positives[::3]:
        label.write_text("".join("1" + line[1:] + "\n" for line in label.read_text().splitlines()))
    yaml_path.write_text(yaml_path.read_text().replace("0: fractured", "0: fractured\n  1: No_fracture"))
    return yaml_path


def test_stratified_shares_come_out_close_on_a_synthetic_set(tmp_path):
    yaml_path = _two_class_synthetic(tmp_path / "src", images=150, seed=3)
    spec = load_dataset(yaml_path)
    result = split_dataset(spec, tmp_path / "out", SplitOptions(val=0.2, test=0.15, seed=1), workers=1)
    splits, total = result.record["splits"], result.record["images"]
    positives = sum(s["positives"] for s in splits.values())
    per_class = {
        c: sum(s["boxes_per_class"][c] for s in splits.values()) for c in ("fractured", "No_fracture")
    }
    assert total == 150 and positives > 80 and min(per_class.values()) > 30
    for name, share in (("train", 0.65), ("val", 0.2), ("test", 0.15)):
        assert abs(splits[name]["images"] - share * total) <= 1, (name, splits[name])
        assert abs(splits[name]["positives"] - share * positives) <= 1, (name, splits[name])
        for cls, boxes in per_class.items():
            assert abs(splits[name]["boxes_per_class"][cls] - share * boxes) <= 2, (name, cls, splits[name])


def _groups(sizes_and_counts: list[tuple[int, int, tuple[int, ...]]]) -> list[ImageGroup]:
    return [
        ImageGroup(f"g{i:03d}", tuple(Path(f"/x/g{i:03d}_{j}.png") for j in range(n)), (), pos, boxes)
        for i, (n, pos, boxes) in enumerate(sizes_and_counts)
    ]


def test_assign_groups_balances_every_stratum_and_never_splits_a_group():
    rng = np.random.default_rng(0)
    specs = []
    for _ in range(200):
        n = int(rng.integers(1, 6))
        pos = int(rng.integers(0, n + 1))
        boxes = tuple(int(v) for v in rng.multinomial(pos * 2, [0.6, 0.3, 0.1])) if pos else (0, 0, 0)
        specs.append((n, pos, boxes))
    groups = _groups(specs)
    parts = assign_groups(groups, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=5)
    assert sorted(g.key for part in parts.values() for g in part) == [g.key for g in groups]
    totals = np.sum([g.strata() for g in groups], axis=0)
    for name, share in (("train", 0.7), ("val", 0.1), ("test", 0.2)):
        got = np.sum([g.strata() for g in parts[name]], axis=0)
        # within one group's worth (at most 5 images, 5 positives, 10 boxes of a class) of every target
        assert np.all(np.abs(got - share * totals) <= [5, 5, 10, 10, 10]), (name, got, share * totals)
        assert abs(got[0] / totals[0] - share) < 0.01
    assert assign_groups(groups, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=5) == parts
    assert assign_groups(groups, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=6) != parts


def test_folds_are_group_disjoint_and_share_one_test_split(planted, tmp_path):
    yaml_path, (exact, near) = planted
    root = yaml_path.parent
    out = tmp_path / "cv"
    result = split_dataset(load_dataset(yaml_path), out, SplitOptions(folds=3, test=0.2), workers=1)
    assert result.yaml_paths == tuple(out / f"fold_{i}" / "data.yaml" for i in range(3))
    assert sorted(p.name for p in out.iterdir()) == ["fold_0", "fold_1", "fold_2", "split.json", "test.txt"]
    assert result.record["fractions"] == {"val": None, "test": 0.2} and result.record["folds"] == 3
    test = set((out / "test.txt").read_text().split())
    everything = {str(p) for images in load_dataset(yaml_path).splits.values() for p in images}
    vals = []
    for i, fold_yaml in enumerate(result.yaml_paths):
        spec = load_dataset(fold_yaml)
        train, val = {str(p) for p in spec.splits["train"]}, {str(p) for p in spec.splits["val"]}
        assert {str(p) for p in spec.splits["test"]} == test
        assert not train & val and not (train | val) & test and train | val | test == everything
        counts = result.record["fold_sets"][i]
        assert counts["val"]["images"] == len(val) and counts["train"]["images"] == len(train)
        assert len(result.record["splits"][f"fold_{i}"]["group_keys"]) == counts["val"]["groups"]
        vals.append(val)
        for original, copy in (exact, near):  # each copy pair: both in val, or both out of it
            assert (str(root / original) in val) == (str(root / copy) in val)
    assert sum(len(v) for v in vals) == len(everything) - len(test) == len(vals[0] | vals[1] | vals[2])
    assert all(abs(len(v) - len(vals[0])) <= 1 for v in vals)


def test_small_data_sets_still_fill_every_split_and_too_few_groups_are_refused(two_class_dataset, tmp_path):
    spec = load_dataset(two_class_dataset)  # 8 images
    result = split_dataset(spec, tmp_path / "small", SplitOptions(), workers=1)
    assert {n: s["images"] for n, s in result.record["splits"].items()} == {"train": 6, "val": 1, "test": 1}
    with pytest.raises(DatasetError, match="7 groups cannot fill the 8 parts"):
        split_dataset(spec, tmp_path / "cv", SplitOptions(folds=8), workers=1)


@pytest.mark.parametrize(("options", "left_out"), [({"test": 0.0}, "test"), ({"val": 0.0}, "val")])
def test_a_share_of_zero_writes_no_such_split(two_class_dataset, tmp_path, options, left_out):
    result = split_dataset(
        load_dataset(two_class_dataset), tmp_path / "o", SplitOptions(**options), workers=1
    )
    assert set(result.record["splits"]) == {"train", "val", "test"} - {left_out}
    assert not (tmp_path / "o" / f"{left_out}.txt").exists()
    assert set(load_dataset(result.yaml_paths[0]).splits) == {"train", "val", "test"} - {left_out}


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"val": 0.5, "test": 0.5}, "val + test must be below 1"),
        ({"val": 0.2, "folds": 3}, "does not apply with folds"),
        ({"folds": 1}, "folds"),
        ({"test": 1.0}, "test"),
        ({"val": -0.1}, "val"),
        ({"group_by": "patient"}, "group_by"),
        ({"group_by": "regex"}, "needs a pattern"),
        ({"group_by": "regex", "pattern": "(unclosed"}, "is not a valid regular expression"),
        ({"pattern": "x"}, "applies only with group_by regex"),
        ({"group_by": "csv"}, "needs a CSV file"),
        ({"group_by": "csv", "groups_csv": "/nowhere/groups.csv"}, "groups CSV not found"),
    ],
)
def test_split_rejects_bad_options(two_class_dataset, tmp_path, options, fragment):
    with pytest.raises(ConfigError) as error:
        split_dataset(
            load_dataset(two_class_dataset),
            tmp_path / "o",
            build_config(SplitOptions, options, "t"),
            workers=1,
        )
    assert fragment in str(error.value)


def test_split_refuses_a_foreign_folder_and_replaces_its_own(two_class_dataset, tmp_path):
    spec = load_dataset(two_class_dataset)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.md").write_text("mine")
    with pytest.raises(ConfigError, match="holds no split.json"):
        split_dataset(spec, tmp_path / "busy", SplitOptions(), workers=1, overwrite=True)
    out = tmp_path / "out"
    split_dataset(spec, out, SplitOptions(folds=2, test=0.2), workers=1)
    with pytest.raises(ConfigError, match="not empty"):
        split_dataset(spec, out, SplitOptions(), workers=1)
    (out / "mine.md").write_text("kept")
    split_dataset(spec, out, SplitOptions(), workers=1, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "data.yaml",
        "mine.md",
        "split.json",
        "test.txt",
        "train.txt",
        "val.txt",
    ]


def test_images_in_several_folders_with_one_name_are_kept_apart(tmp_path):
    root = tmp_path / "src"
    for i, site in enumerate(("a", "b", "c", "d", "e")):
        write_label(
            write_image(root / site / "images" / "x.png", radiograph(40 + i, 64)), ["0 0.5 0.5 0.2 0.2"]
        )
    (root / "train.txt").write_text("a/images/x.png\nb/images/x.png\nc/images/x.png\n")
    (root / "val.txt").write_text("d/images/x.png\ne/images/x.png\n")
    (root / "data.yaml").write_text("train: train.txt\nval: val.txt\nnames: [fractured]\n")
    spec = load_dataset(root / "data.yaml")
    grouping = method_groups(spec, SplitOptions())
    assert [g.key for g in grouping.groups] == [f"{s}/images/x.png" for s in "abcde"]
    csv_path = tmp_path / "g.csv"
    csv_path.write_text("image,group\nx.png,p1\n")
    with pytest.raises(ConfigError, match="file names match images in several folders"):
        method_groups(spec, SplitOptions(group_by="csv", groups_csv=csv_path))
    result = split_dataset(spec, tmp_path / "out", SplitOptions(val=0.2, test=0.2), workers=1)
    assert sum(s["images"] for s in result.record["splits"].values()) == 5
    assert json.loads((tmp_path / "out" / "split.json").read_text()) == result.record
