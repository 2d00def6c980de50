"""FracAtlas test radiographs for the demo: where FracAtlas is, the picking rule, credited copies.

The choice is by rule, never by how a model does on them: images sorted by id, those whose metadata flag
and label file disagree skipped; per body region (hand, leg, hip, shoulder) the first fractured image of
that region alone, then the first image without a fracture for hand and for leg.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bonefrac.demo.folder import DemoImage, DemoManifest, finish_demo_folder, label_name, reset_demo_folder
from bonefrac.errors import ConfigError, DatasetError

FRACATLAS_ENV = "BONEFRAC_FRACATLAS"
DEFAULT_LOCATION = Path("..") / "shared" / "data" / "fracatlas"  # beside a checkout
METADATA = Path("original_metadata") / "dataset.csv"
FRACTURED_REGIONS = ("hand", "leg", "hip", "shoulder")
NEGATIVE_REGIONS = ("hand", "leg")
RULE = (
    "FracAtlas test images sorted by id, skipping those whose metadata and label file disagree; per body "
    "region (hand, leg, hip, shoulder) the first fractured image of that region alone, then the first image "
    "without a fracture for hand and for leg. Chosen by rule, not by how any model does on them."
)
CREDIT = (
    "FracAtlas: Abedeen, I., Rahman, M. A., Prottyasha, F. Z. et al. FracAtlas: A Dataset for Fracture "
    "Classification, Localization and Segmentation of Musculoskeletal Radiographs. Sci Data 10, 521 (2023). "
    "https://doi.org/10.1038/s41597-023-02432-4, data https://doi.org/10.6084/m9.figshare.22363012. "
    "CC BY 4.0. The images and labels are unchanged copies."
)


@dataclass(frozen=True)
class MetadataRow:
    """One test image's line of FracAtlas's dataset.csv, as the rule needs it."""

    image_id: str
    fractured: bool
    regions: frozenset[str]
    mixed: bool


@dataclass(frozen=True)
class Pick:
    """A chosen image: its metadata, the region it stands for and its label's box count."""

    row: MetadataRow
    region: str
    boxes: int


def fracatlas_location(environ: Mapping[str, str], cwd: Path) -> Path:
    """Where FracAtlas should be: $BONEFRAC_FRACATLAS, else ../shared/data/fracatlas (both from cwd)."""
    value = environ.get(FRACATLAS_ENV)
    return Path(cwd) / (value or DEFAULT_LOCATION)


def missing_parts(root: Path) -> list[str]:
    """What the rule needs and `root` lacks (images/test, labels/test, the metadata); [] when usable."""
    needed = (Path("images") / "test", Path("labels") / "test", METADATA)
    return [str(part) for part in needed if not (Path(root) / part).exists()]


def read_test_rows(root: Path) -> list[MetadataRow]:
    """The metadata rows of the images in images/test, sorted by id."""
    test_images = {p.name for p in (root / "images" / "test").iterdir() if p.is_file()}
    try:
        with (root / METADATA).open(newline="", encoding="utf-8") as handle:
            rows = [
                MetadataRow(
                    image_id=r["image_id"],
                    fractured=r["fractured"] == "1",
                    regions=frozenset(region for region in FRACTURED_REGIONS if r[region] == "1"),
                    mixed=r["mixed"] == "1",
                )
                for r in csv.DictReader(handle)
                if r["image_id"] in test_images
            ]
    except KeyError as exc:
        raise DatasetError(
            f"{root / METADATA} lacks the column {exc}; expected image_id, fractured, mixed and "
            f"{', '.join(FRACTURED_REGIONS)}"
        ) from exc
    return sorted(rows, key=lambda row: row.image_id)


def label_boxes(root: Path, image_id: str) -> int:
    """Boxes in labels/test/<stem>.txt (0 when the file is missing or empty)."""
    label = root / "labels" / "test" / f"{Path(image_id).stem}.txt"
    text = label.read_text(encoding="utf-8") if label.is_file() else ""
    return sum(1 for line in text.splitlines() if line.strip())


def pick(rows: list[MetadataRow], boxes: Mapping[str, int]) -> list[Pick]:
    """The rule (module docstring) over rows sorted by id and each image's box count."""
    agreeing = [row for row in rows if (boxes.get(row.image_id, 0) > 0) == row.fractured]
    chosen: list[Pick] = []
    wanted = [(r, True) for r in FRACTURED_REGIONS] + [(r, False) for r in NEGATIVE_REGIONS]
    for region, fractured in wanted:
        taken = {p.row.image_id for p in chosen}
        row = next(
            (
                r
                for r in agreeing
                if r.fractured == fractured
                and region in r.regions
                and not (fractured and r.mixed)
                and r.image_id not in taken
            ),
            None,
        )
        if row is not None:
            chosen.append(Pick(row=row, region=region, boxes=boxes.get(row.image_id, 0)))
    return chosen


def write_fracatlas_demo(root: Path, out: Path) -> DemoManifest:
    """Copy the picked test images and their labels into `out` (reset first), with demo.json and a README."""
    root = Path(root).resolve()
    missing = missing_parts(root)
    if missing:
        raise DatasetError(f"expected FracAtlas in YOLO layout at {root}, but it lacks {', '.join(missing)}")
    if Path(out).resolve().is_relative_to(root):
        raise ConfigError(
            f"the demo folder must lie outside FracAtlas (never modified), got {out} inside {root}"
        )
    rows = read_test_rows(root)
    chosen = pick(rows, {row.image_id: label_boxes(root, row.image_id) for row in rows})
    if not chosen:
        raise DatasetError(f"no FracAtlas test image in {root} fits the demo rule (read {len(rows)})")
    out = reset_demo_folder(out)
    images = []
    for item in chosen:
        name = item.row.image_id
        label = root / "labels" / "test" / f"{Path(name).stem}.txt"
        shutil.copyfile(root / "images" / "test" / name, out / name)
        (out / label_name(name)).write_bytes(label.read_bytes() if label.is_file() else b"")
        state = "fractured" if item.row.fractured else "no fracture"
        note = f"{item.region}, {state}"
        images.append(DemoImage(file=name, label=label_name(name), boxes=item.boxes, note=note))
    manifest = DemoManifest(
        kind="fracatlas",
        source=f"the FracAtlas test split at {root}",
        rule=RULE,
        credit=CREDIT,
        images=images,
    )
    return finish_demo_folder(out, manifest)
