"""Copy a handful of FracAtlas test radiographs (credited) into the shipped model's demo folder.

The choice is by rule, not by how the model does on them: per body region (hand, leg, hip, shoulder) the
first fractured test image by id, plus the first two test images without a fracture (hand, leg), skipping images whose metadata and label file disagree.
    python scripts/pick_demo_images.py ../shared/data/fracatlas deploy/model/demo
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

REGIONS = ("hand", "leg", "hip", "shoulder")
CREDIT = (
    "Abedeen, I., Rahman, M. A., Prottyasha, F. Z. et al. FracAtlas: A Dataset for Fracture Classification, "
    "Localization and Segmentation of Musculoskeletal Radiographs. Sci Data 10, 521 (2023). "
    "https://doi.org/10.1038/s41597-023-02432-4, data https://doi.org/10.6084/m9.figshare.22363012. CC BY 4.0."
)


def _box_count(fracatlas: Path, name: str) -> int:
    label = fracatlas / "labels" / "test" / (Path(name).stem + ".txt")
    text = label.read_text(encoding="utf-8") if label.is_file() else ""
    return sum(1 for line in text.splitlines() if line.strip())


def pick(fracatlas: Path) -> list[tuple[str, dict[str, str]]]:
    """(region, metadata row) per chosen image; the metadata flag and the label file must agree."""
    test_images = {p.name for p in (fracatlas / "images" / "test").iterdir()}
    with (fracatlas / "original_metadata" / "dataset.csv").open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["image_id"] in test_images]
    rows.sort(key=lambda r: r["image_id"])
    for row in rows:
        boxes = _box_count(fracatlas, row["image_id"])
        row["agrees"] = "1" if (boxes > 0) == (row["fractured"] == "1") else "0"
    rows = [r for r in rows if r["agrees"] == "1"]
    chosen: list[tuple[str, dict[str, str]]] = []
    for region in REGIONS:
        row = next(
            (r for r in rows if r["fractured"] == "1" and r[region] == "1" and r["mixed"] == "0"), None
        )
        if row is not None:
            chosen.append((region, row))
    for region in ("hand", "leg"):
        row = next((r for r in rows if r["fractured"] == "0" and r[region] == "1"), None)
        if row is not None:
            chosen.append((region, row))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fracatlas", type=Path, help="FracAtlas in YOLO layout (../shared/data/fracatlas)")
    parser.add_argument("out", type=Path, help="demo folder to (re)write")
    args = parser.parse_args()
    chosen = pick(args.fracatlas)
    if args.out.exists():
        shutil.rmtree(args.out)
    (args.out / "labels").mkdir(parents=True)
    lines = [
        "# Demo radiographs",
        "",
        "FracAtlas **test** images (never trained on), for trying the shipped model: `make run` and the UI, or",
        "`bonefrac predict deploy/model/demo --weights deploy/model/model.onnx`. Chosen by rule, not by how the",
        "model does on them: per body region the first fractured test image by id, then the first two test",
        "images without a fracture (metadata and label file agreeing). `labels/` holds their ground truth (YOLO format; empty = no fracture).",
        "",
        f"Credit: {CREDIT} The images are unchanged copies.",
        "",
        "| file | region | fractured | boxes |",
        "|---|---|---|---|",
    ]
    for region, row in chosen:
        name = row["image_id"]
        shutil.copy2(args.fracatlas / "images" / "test" / name, args.out / name)
        label = args.fracatlas / "labels" / "test" / (Path(name).stem + ".txt")
        text = label.read_text(encoding="utf-8") if label.is_file() else ""
        (args.out / "labels" / label.name).write_text(text, encoding="utf-8")
        boxes = sum(1 for line in text.splitlines() if line.strip())
        lines.append(f"| {name} | {region} | {'yes' if row['fractured'] == '1' else 'no'} | {boxes} |")
    (args.out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(chosen)} demo images to {args.out}")


if __name__ == "__main__":
    main()
