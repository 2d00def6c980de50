"""YOLO label files, examined line by line; labels without images; images without label files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bonefrac.data.yolo_format import IMAGE_SUFFIXES, label_path_for
from bonefrac.labels import LabelProblem, parse_label_line
from bonefrac.records import Severity

IGNORED_LABEL_FILES = frozenset({"classes.txt"})  # written by LabelImg and Roboflow beside the labels


@dataclass(frozen=True)
class LabelScan:
    """A label file: does it exist, its usable boxes (class, cx, cy, w, h) and what is wrong with it."""

    path: Path
    exists: bool
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), np.float64))
    problems: tuple[LabelProblem, ...] = ()

    @property
    def class_ids(self) -> np.ndarray:
        return self.boxes[:, 0].astype(np.int64)


def scan_label(path: Path, num_classes: int) -> LabelScan:
    """Read and check one YOLO label file (a missing file is reported by `exists=False`, not as a problem)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LabelScan(path, exists=False)
    except OSError as exc:
        return LabelScan(path, True, problems=(LabelProblem("error", f"cannot be read: {exc}"),))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return LabelScan(path, True, problems=(LabelProblem("error", f"is not UTF-8 text ({exc.reason})"),))
    boxes: list[list[float]] = []
    problems: list[LabelProblem] = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        parsed = parse_label_line(fields, num_classes)
        problems += [LabelProblem(p.severity, f"line {line_no}: {p.message}") for p in parsed.problems]
        if parsed.box is None or not parsed.usable:
            continue
        box = list(parsed.box)
        key = " ".join(f"{v:.6f}" for v in box)
        if key in seen:
            problems.append(
                LabelProblem(
                    "warning",
                    f"line {line_no}: repeats the box of line {seen[key]} (ultralytics drops duplicates)",
                )
            )
            continue
        seen[key] = line_no
        boxes.append(box)
    array = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
    return LabelScan(path, True, array, tuple(problems))


def find_orphan_labels(images: Iterable[Path]) -> list[Path]:
    """Label files in the label folders of `images` whose image does not exist under any image suffix."""
    label_dirs = {label_path_for(image).parent for image in images}
    orphans = []
    for label_dir in sorted(label_dirs):
        if not label_dir.is_dir():
            continue
        image_dir = _image_dir_for(label_dir)
        stems = (
            {p.stem for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
            if image_dir and image_dir.is_dir()
            else set()
        )
        for label in sorted(label_dir.glob("*.txt")):
            if label.name not in IGNORED_LABEL_FILES and label.stem not in stems:
                orphans.append(label)
    return orphans


def _image_dir_for(label_dir: Path) -> Path | None:
    """The image folder the YOLO convention pairs with a label folder (last labels/ -> images/)."""
    parts = list(label_dir.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "labels":
            parts[i] = "images"
            return Path(*parts)
    return label_dir  # labels beside the images


def missing_label_convention(label_scans: Iterable[LabelScan]) -> tuple[Severity, str]:
    """What a missing label file means in this data set, judged by how it marks its background images."""
    scans = list(label_scans)
    empty_files = sum(1 for s in scans if s.exists and len(s.boxes) == 0 and not s.problems)
    missing = sum(1 for s in scans if not s.exists)
    if empty_files:
        return (
            "warning",
            f"this data set marks background images with empty label files ({empty_files} of them), so a "
            f"missing file looks like a lost label; YOLO will train the image as a background",
        )
    return (
        "info",
        f"no image here has an empty label file, so the {missing} images without one are background images "
        "by the YOLO convention",
    )
