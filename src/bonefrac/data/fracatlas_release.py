"""The FracAtlas release archive (FracAtlas.zip from its figshare record) laid out as a YOLO data set.

The release holds `images/Fractured/*.jpg`, `images/Non_fractured/*.jpg`, YOLO labels for the fractured images
(`Annotations/YOLO/*.txt`), the official "Fracture Split" of the 717 fractured images
(`Utilities/Fracture Split/{train,valid,test}.csv`) and per-image flags (`dataset.csv`). The layout written:

    images/{train,val,test}/IMG*.jpg   labels/{train,val,test}/IMG*.txt (empty without a fracture)
    data.yaml (all images)   data_fractured_only.yaml + fractured_only_{train,val,test}.txt (official split)
    original_metadata/dataset.csv, fracture_split_{train,valid,test}.csv   README.md   fracatlas.json

Fractured images go where the official split puts them. FracAtlas publishes no split for the others; they are
assigned by image-id range (train below 3296, test 3296..3722, val from 3723), so neighbouring ids, often one
study, stay together: the same assignment as the project's reference copy of FracAtlas. Image and label bytes
are copied unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bonefrac.errors import DatasetError

SPLITS = ("train", "val", "test")
RELEASE_SPLIT_NAMES = {"train": "train", "valid": "val", "val": "val", "test": "test"}
TEST_FIRST_ID = 3296  # ids below: train
VAL_FIRST_ID = 3723  # ids from here: val; 3296..3722: test
IMAGE_NAME = re.compile(r"^IMG(\d{7})\.jpg$", re.IGNORECASE)
CREDIT = (
    "FracAtlas: Abedeen, I., Rahman, M. A., Prottyasha, F. Z. et al. FracAtlas: A Dataset for Fracture "
    "Classification, Localization and Segmentation of Musculoskeletal Radiographs. Sci Data 10, 521 (2023). "
    "https://doi.org/10.1038/s41597-023-02432-4, data https://doi.org/10.6084/m9.figshare.22363012. "
    "CC BY 4.0."
)


def image_number(name: str) -> int:
    """7 from "IMG0000007.jpg"; DatasetError for a name of another form."""
    found = IMAGE_NAME.match(name)
    if found is None:
        raise DatasetError(f"unexpected FracAtlas image name {name!r}; expected IMG0000000.jpg")
    return int(found.group(1))


def split_by_id(name: str) -> str:
    """The split of an image outside the official fracture split, by its id range."""
    number = image_number(name)
    if number < TEST_FIRST_ID:
        return "train"
    return "test" if number < VAL_FIRST_ID else "val"


def assign_split(name: str, fracture_split: dict[str, str]) -> str:
    """The official fracture split's choice for a fractured image, else the id-range rule."""
    return fracture_split.get(name) or split_by_id(name)


@dataclass(frozen=True)
class ReleaseMembers:
    """Where the parts of the release are inside the archive."""

    fractured: dict[str, str]  # image name -> member path
    non_fractured: dict[str, str]
    labels: dict[str, str]  # image stem -> member path of its YOLO label
    split_csvs: dict[str, str]  # "train" | "val" | "test" -> member path
    metadata_csv: str | None


@dataclass(frozen=True)
class LayoutSummary:
    """What was written: images and boxes per split, fractured images per split, where data.yaml is."""

    out_dir: Path
    images: dict[str, int]
    fractured: dict[str, int]
    boxes: dict[str, int]
    data_yaml: Path
    fractured_only_yaml: Path
    archive_name: str
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.images.values())


def find_members(archive: zipfile.ZipFile) -> ReleaseMembers:
    """Locate the release's parts by their folder names (whatever the archive's top folder is called)."""
    fractured: dict[str, str] = {}
    non_fractured: dict[str, str] = {}
    labels: dict[str, str] = {}
    split_csvs: dict[str, str] = {}
    metadata_csv = None
    for member in archive.namelist():
        path = PurePosixPath(member)
        if member.endswith("/") or path.name.startswith((".", "._")) or "__MACOSX" in path.parts:
            continue
        parent = path.parent.name.lower()
        grandparent = path.parent.parent.name.lower()
        suffix = path.suffix.lower()
        if suffix == ".jpg" and grandparent == "images" and parent == "fractured":
            fractured[path.name] = member
        elif suffix == ".jpg" and grandparent == "images" and parent in ("non_fractured", "non-fractured"):
            non_fractured[path.name] = member
        elif suffix == ".txt" and parent == "yolo" and grandparent == "annotations":
            labels[path.stem] = member
        elif suffix == ".csv" and "fracture split" in parent and path.stem.lower() in RELEASE_SPLIT_NAMES:
            split_csvs[RELEASE_SPLIT_NAMES[path.stem.lower()]] = member
        elif path.name.lower() == "dataset.csv":
            metadata_csv = member
    missing = [
        what
        for what, found in (
            ("images/Fractured/*.jpg", fractured),
            ("images/Non_fractured/*.jpg", non_fractured),
            ("Utilities/Fracture Split/{train,valid,test}.csv", len(split_csvs) == 3),
        )
        if not found
    ]
    if missing:
        raise DatasetError(
            f"{archive.filename}: not the FracAtlas release; missing {', '.join(missing)} "
            f"(it holds {len(archive.namelist())} entries, e.g. {', '.join(archive.namelist()[:3])})"
        )
    return ReleaseMembers(fractured, non_fractured, labels, split_csvs, metadata_csv)


def read_fracture_split(archive: zipfile.ZipFile, members: ReleaseMembers) -> dict[str, str]:
    """Image name -> split of the official fracture split (its CSVs' `image_id` column)."""
    split_of: dict[str, str] = {}
    for split, member in members.split_csvs.items():
        text = archive.read(member).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        if rows and "image_id" not in rows[0]:
            raise DatasetError(f"{member}: expected an image_id column, found {sorted(rows[0])}")
        for row in rows:
            name = row["image_id"].strip()
            if name in split_of and split_of[name] != split:
                raise DatasetError(f"{name} is in two fracture splits: {split_of[name]} and {split}")
            split_of[name] = split
    return split_of


def layout_release(
    archive_path: Path,
    out_dir: Path,
    on_progress: Callable[[int, int], None] | None = None,
    source: dict[str, object] | None = None,
) -> LayoutSummary:
    """Write the YOLO layout of a FracAtlas release archive into out_dir (its images/, labels/ are replaced);
    `source` (where the archive came from, its digests) is recorded in fracatlas.json."""
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"{archive_path}: not a readable zip archive ({exc})") from exc
    with archive:
        members = find_members(archive)
        fracture_split = read_fracture_split(archive, members)
        unknown = sorted(set(fracture_split) - set(members.fractured))
        notes = []
        if unknown:
            notes.append(
                f"{len(unknown)} image(s) of the fracture split are not in images/Fractured "
                f"(e.g. {unknown[0]}); placed by the split anyway where present"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        for folder in ("images", "labels"):
            shutil.rmtree(out_dir / folder, ignore_errors=True)
        for split in SPLITS:
            (out_dir / "images" / split).mkdir(parents=True)
            (out_dir / "labels" / split).mkdir(parents=True)
        everything = {**members.non_fractured, **members.fractured}
        counts = {s: 0 for s in SPLITS}
        fractured_counts = {s: 0 for s in SPLITS}
        boxes = {s: 0 for s in SPLITS}
        fractured_lists: dict[str, list[str]] = {s: [] for s in SPLITS}
        for done, name in enumerate(sorted(everything, key=image_number), start=1):
            split = assign_split(name, fracture_split)
            (out_dir / "images" / split / name).write_bytes(archive.read(everything[name]))
            stem = PurePosixPath(name).stem
            label = archive.read(members.labels[stem]) if stem in members.labels else b""
            (out_dir / "labels" / split / f"{stem}.txt").write_bytes(label)
            counts[split] += 1
            lines = label.decode("utf-8-sig", "replace").splitlines()
            boxes[split] += sum(bool(line.strip()) for line in lines)
            if name in members.fractured:
                fractured_counts[split] += 1
            if name in fracture_split:
                fractured_lists[split].append(f"./images/{split}/{name}")
            if on_progress is not None:
                on_progress(done, len(everything))
        _copy_metadata(archive, members, out_dir)
    data_yaml, fractured_yaml = _write_yamls(out_dir, fractured_lists)
    summary = LayoutSummary(
        out_dir=out_dir,
        images=counts,
        fractured=fractured_counts,
        boxes=boxes,
        data_yaml=data_yaml,
        fractured_only_yaml=fractured_yaml,
        archive_name=archive_path.name,
        notes=notes,
    )
    _write_readme(summary, source or {})
    return summary


def _copy_metadata(archive: zipfile.ZipFile, members: ReleaseMembers, out_dir: Path) -> None:
    folder = out_dir / "original_metadata"
    folder.mkdir(exist_ok=True)
    if members.metadata_csv is not None:
        (folder / "dataset.csv").write_bytes(archive.read(members.metadata_csv))
    release_names = {"train": "train", "val": "valid", "test": "test"}
    for split, member in members.split_csvs.items():
        (folder / f"fracture_split_{release_names[split]}.csv").write_bytes(archive.read(member))


def _write_yamls(out_dir: Path, fractured_lists: dict[str, list[str]]) -> tuple[Path, Path]:
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(
        "# FracAtlas (Abedeen et al., Sci Data 2023), CC BY 4.0. See README.md in this folder.\n"
        "# Paths are relative to this file's folder.\n"
        "train: images/train\nval: images/val\ntest: images/test\nnames:\n  0: fractured\n",
        encoding="utf-8",
    )
    for split, lines in fractured_lists.items():
        (out_dir / f"fractured_only_{split}.txt").write_text("".join(f"{line}\n" for line in lines))
    total = sum(len(lines) for lines in fractured_lists.values())
    shares = " / ".join(str(len(fractured_lists[s])) for s in SPLITS)
    fractured_yaml = out_dir / "data_fractured_only.yaml"
    fractured_yaml.write_text(
        f'# Only the {total} fractured images: the official FracAtlas "Fracture Split" ({shares}).\n'
        "# Paths are relative to this file's folder.\n"
        "train: fractured_only_train.txt\nval: fractured_only_val.txt\ntest: fractured_only_test.txt\n"
        "names:\n  0: fractured\n",
        encoding="utf-8",
    )
    return data_yaml, fractured_yaml


def _write_readme(summary: LayoutSummary, source: dict[str, object]) -> None:
    rows = "\n".join(
        f"| {split} | {summary.images[split]:,} | {summary.fractured[split]:,} | "
        f"{summary.images[split] - summary.fractured[split]:,} | {summary.boxes[split]:,} |"
        for split in SPLITS
    )
    text = f"""# FracAtlas, in YOLO layout

Written by `bonefrac data fetch fracatlas` from the release archive `{summary.archive_name}`.

{CREDIT} Anything derived from it (a trained model, a report) must credit the paper.

| split | images | fractured | without a fracture | boxes |
|---|---|---|---|---|
{rows}

- One class, `0: fractured`; an image without a fracture has an empty label file.
- `data.yaml`: all images. `data_fractured_only.yaml` with `fractured_only_*.txt`: the fractured images only,
  exactly the official FracAtlas "Fracture Split".
- Fractured images are split as the official Fracture Split says. FracAtlas publishes no split for the others;
  they are assigned by image-id range (train id < {TEST_FIRST_ID}, test {TEST_FIRST_ID}..{VAL_FIRST_ID - 1},
  val >= {VAL_FIRST_ID}), so that neighbouring ids, often the same study, stay together.
- `original_metadata/`: the release's `dataset.csv` (per-image flags) and the fracture split's CSVs.
- Images and labels are the release's bytes, unchanged: real data with the faults real data has. Run
  `bonefrac data check data.yaml` to see them.
"""
    (summary.out_dir / "README.md").write_text(text, encoding="utf-8")
    record = {
        "archive": summary.archive_name,
        "source": source,
        "images": summary.images,
        "fractured": summary.fractured,
        "boxes": summary.boxes,
        "rule": {"test_first_id": TEST_FIRST_ID, "val_first_id": VAL_FIRST_ID},
        "notes": summary.notes,
    }
    (summary.out_dir / "fracatlas.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
