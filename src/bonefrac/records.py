"""Typed records passed between stages. Framework objects never cross a stage boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Detections:
    """Boxes found on one image, in original pixel coordinates (x1, y1, x2, y2)."""

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be (N, 4), got {tuple(xyxy.shape)}")
        n = xyxy.shape[0]
        confidence = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        class_id = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        if confidence.shape != (n,):
            raise ValueError(f"confidence must be ({n},) to match xyxy, got {tuple(confidence.shape)}")
        if class_id.shape != (n,):
            raise ValueError(f"class_id must be ({n},) to match xyxy, got {tuple(class_id.shape)}")
        if n and np.any(xyxy[:, 2:] < xyxy[:, :2]):
            raise ValueError("xyxy must have x2 >= x1 and y2 >= y1 for every box")
        if self.class_names and n and (class_id.min() < 0 or class_id.max() >= len(self.class_names)):
            raise ValueError(
                f"class_id must be in 0..{len(self.class_names) - 1} for class names {self.class_names}, "
                f"got {sorted(set(class_id.tolist()))}"
            )
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "class_id", class_id)
        object.__setattr__(self, "class_names", tuple(self.class_names))

    @classmethod
    def empty(cls, class_names: tuple[str, ...] = ()) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), class_names)

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def select(self, mask: np.ndarray) -> Detections:
        """The detections where `mask` (boolean or index array) holds."""
        return Detections(self.xyxy[mask], self.confidence[mask], self.class_id[mask], self.class_names)

    def above(self, threshold: float) -> Detections:
        """The detections with confidence >= threshold."""
        return self.select(self.confidence >= threshold)

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-ready list, one dict per box."""
        names = self.class_names
        return [
            {
                "xyxy": [round(float(v), 2) for v in box],
                "confidence": round(float(conf), 5),
                "class_id": int(cid),
                "class_name": names[int(cid)] if names else str(int(cid)),
            }
            for box, conf, cid in zip(self.xyxy, self.confidence, self.class_id, strict=True)
        ]


@dataclass(frozen=True)
class Radiograph:
    """A decoded image ready for a detector: RGB uint8 pixels plus what the file said about itself."""

    pixels: np.ndarray  # (H, W, 3) uint8, RGB, display-ready (DICOM already windowed)
    source_format: str  # "jpeg", "png", "bmp", "tiff", "dicom", ...
    pixel_spacing_mm: tuple[float, float] | None = None  # (row spacing, column spacing)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        p = self.pixels
        if p.ndim != 3 or p.shape[2] != 3 or p.dtype != np.uint8:
            raise ValueError(f"pixels must be (H, W, 3) uint8, got {tuple(p.shape)} {p.dtype}")

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


@dataclass(frozen=True)
class DatasetSpec:
    """A YOLO data set as read from data.yaml: where each split's images are, and the class names."""

    yaml_path: Path
    root: Path
    splits: dict[str, tuple[Path, ...]]  # split name ("train", "val", "test") -> image paths, sorted
    class_names: tuple[str, ...]
    fingerprint: str  # sha256 over image names, sizes and label contents

    def images(self, split: str) -> tuple[Path, ...]:
        if split not in self.splits:
            raise KeyError(f"split {split!r} not in data set; available: {sorted(self.splits)}")
        return self.splits[split]


@dataclass(frozen=True)
class Finding:
    """One thing a data check found, with every affected file named."""

    severity: Severity
    kind: str
    split: str | None
    files: tuple[str, ...]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "kind": self.kind,
            "split": self.split,
            "files": list(self.files),
            "detail": self.detail,
        }


# --- data stage (bonefrac.data.checks) ---


@dataclass(frozen=True)
class SplitStats:
    """Counts and distributions of one split, as `bonefrac data check` reports them."""

    images: int
    with_boxes: int
    backgrounds: int
    boxes: int
    boxes_per_class: dict[str, int]
    missing_labels: int = 0
    unreadable_images: int = 0
    boxes_per_image: dict[str, float] = field(default_factory=dict)
    box_size: dict[str, dict[str, float]] = field(default_factory=dict)  # width/height/area/aspect
    image_size: dict[str, Any] = field(default_factory=dict)  # width/height quantiles, most common sizes

    @property
    def background_share(self) -> float:
        return self.backgrounds / self.images if self.images else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "with_boxes": self.with_boxes,
            "backgrounds": self.backgrounds,
            "background_share": round(self.background_share, 4),
            "boxes": self.boxes,
            "boxes_per_class": dict(self.boxes_per_class),
            "missing_labels": self.missing_labels,
            "unreadable_images": self.unreadable_images,
            "boxes_per_image": dict(self.boxes_per_image),
            "box_size": {k: dict(v) for k, v in self.box_size.items()},
            "image_size": dict(self.image_size),
        }


@dataclass(frozen=True)
class DataReport:
    """What `bonefrac data check` found: per-split statistics and findings, each naming its files."""

    yaml_path: Path
    root: Path
    fingerprint: str
    class_names: tuple[str, ...]
    splits: dict[str, SplitStats]
    findings: tuple[Finding, ...]
    seconds: float = 0.0

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def fails(self, strict: bool = False) -> bool:
        """True when there are errors (or, with strict, warnings)."""
        return self.count("error") > 0 or (strict and self.count("warning") > 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": {
                "yaml": str(self.yaml_path),
                "root": str(self.root),
                "fingerprint": self.fingerprint,
                "class_names": list(self.class_names),
            },
            "summary": {
                "errors": self.count("error"),
                "warnings": self.count("warning"),
                "infos": self.count("info"),
                "seconds": round(self.seconds, 2),
            },
            "splits": {name: stats.to_dict() for name, stats in self.splits.items()},
            "findings": [f.to_dict() for f in self.findings],
        }


# --- train ---


@dataclass(frozen=True)
class SplitMetrics:
    """Box detection metrics of one model on one split (ultralytics' validator, IoU 0.5 and 0.5:0.95)."""

    split: str
    images: int
    precision: float
    recall: float
    map50: float
    map50_95: float
    wall_time_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "precision": self.precision,
            "recall": self.recall,
            "map50": self.map50,
            "map50_95": self.map50_95,
            "wall_time_s": self.wall_time_s,
        }


@dataclass(frozen=True)
class RunResult:
    """A finished training run: where it lives, what it was, and how well it did."""

    run_dir: Path
    config: dict[str, Any]  # the resolved TrainConfig, as written to config.yaml
    best_weights: Path
    last_weights: Path
    metrics: dict[str, SplitMetrics]  # "val", and "test" when the data has a test split
    dataset_fingerprint: str  # of the data trained on (see dataset.json for the source's)
    code_version: str
    epochs_completed: int
    train_wall_time_s: float
    resumed: bool = False
