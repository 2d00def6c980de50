"""Predict on many files: collect inputs (files, folders, globs), write annotated PNGs, JSONs, a CSV.

A file that cannot be read or predicted is recorded as failed (with the reason) and the batch goes on.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonefrac.errors import BonefracError, ConfigError
from bonefrac.infer.predictor import Predictor
from bonefrac.records import Detections, Radiograph

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".dcm", ".dicom", ".dic"}
SUMMARY_FILENAME = "summary.csv"
CSV_FIELDS = ("file", "status", "detections", "max_confidence", "positive", "json", "image", "error")


@dataclass(frozen=True)
class InputFile:
    """One file to predict on, and the stem its outputs get (unique within the batch)."""

    path: Path
    output_stem: str


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file."""

    path: Path
    ok: bool
    detections: int = 0
    max_confidence: float | None = None
    positive: bool = False
    json_path: Path | None = None
    image_path: Path | None = None
    error: str | None = None

    def csv_row(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "status": "ok" if self.ok else "failed",
            "detections": self.detections if self.ok else "",
            "max_confidence": "" if self.max_confidence is None else f"{self.max_confidence:.5f}",
            "positive": "" if not self.ok else str(self.positive).lower(),
            "json": "" if self.json_path is None else str(self.json_path),
            "image": "" if self.image_path is None else str(self.image_path),
            "error": self.error or "",
        }


def _is_dicom_without_suffix(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(132)[128:132] == b"DICM"
    except OSError:
        return False


def _in_folder(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        suffix = path.suffix.lower()
        if suffix in IMAGE_SUFFIXES or (suffix == "" and _is_dicom_without_suffix(path)):
            found.append(path)
    return found


def collect_inputs(arguments: Sequence[str | Path]) -> list[InputFile]:
    """Files as given, folders searched recursively for images (and suffix-less DICOM), globs expanded."""
    files: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            files.extend(_in_folder(path))
        elif path.exists():
            files.append(path)
        elif glob.has_magic(str(argument)):
            matches = sorted(Path(m) for m in glob.glob(str(argument), recursive=True))
            if not matches:
                raise ConfigError(f"the pattern {argument!r} matches no files")
            for match in matches:
                files.extend(_in_folder(match) if match.is_dir() else [match])
        else:
            raise ConfigError(f"{argument}: no such file, folder or glob pattern")
    unique = list(dict.fromkeys(p.resolve() for p in files))
    if not unique:
        raise ConfigError(f"no image files found in {', '.join(map(str, arguments))}")
    return _with_unique_stems(unique)


def _with_unique_stems(paths: Iterable[Path]) -> list[InputFile]:
    used: set[str] = set()
    out = []
    for path in paths:
        stem = path.stem or path.name
        candidate, n = stem, 1
        while candidate in used:
            candidate = f"{stem}_{n}"
            n += 1
        used.add(candidate)
        out.append(InputFile(path, candidate))
    return out


def detections_json(
    source: Path, image: Radiograph, detections: Detections, predictor: Predictor, threshold: float
) -> dict[str, Any]:
    """The per-image JSON: the image, the model, the threshold and each box (in mm too when known)."""
    boxes = detections.to_list()
    if image.pixel_spacing_mm is not None:
        row_mm, col_mm = image.pixel_spacing_mm
        for box in boxes:
            x1, y1, x2, y2 = box["xyxy"]
            box["size_mm"] = [round((x2 - x1) * col_mm, 2), round((y2 - y1) * row_mm, 2)]
    return {
        "file": str(source),
        "width": image.width,
        "height": image.height,
        "source_format": image.source_format,
        "pixel_spacing_mm": list(image.pixel_spacing_mm) if image.pixel_spacing_mm else None,
        "model": {"name": predictor.card.name, "version": predictor.card.version, "sha256": predictor.sha256},
        "threshold": threshold,
        "detections": boxes,
    }


def predict_file(
    item: InputFile,
    predictor: Predictor,
    out_dir: Path,
    *,
    conf: float | None,
    iou: float,
    save_images: bool,
) -> FileOutcome:
    """Load, predict, write JSON (and the annotated PNG); a failure becomes a failed outcome, never raised."""
    from bonefrac.imaging.io import load_image

    try:
        image = load_image(item.path)
        threshold = predictor.default_conf if conf is None else conf
        detections = predictor.predict(image, conf=threshold, iou=iou)
        json_path = out_dir / f"{item.output_stem}.json"
        payload = detections_json(item.path, image, detections, predictor, threshold)
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        image_path = None
        if save_images:
            from bonefrac.imaging.render import draw_detections, encode_png

            image_path = out_dir / f"{item.output_stem}.png"
            image_path.write_bytes(encode_png(draw_detections(image, detections)))
    except (BonefracError, ValueError, OSError) as exc:
        logger.warning("%s: skipped (%s)", item.path, exc)
        return FileOutcome(item.path, ok=False, error=str(exc))
    return FileOutcome(
        item.path,
        ok=True,
        detections=len(detections),
        max_confidence=float(detections.confidence.max()) if len(detections) else None,
        positive=bool(len(detections)),
        json_path=json_path,
        image_path=image_path,
    )


def predict_files(
    items: Sequence[InputFile],
    predictor: Predictor,
    out_dir: Path,
    *,
    conf: float | None = None,
    iou: float = 0.7,
    save_images: bool = True,
    on_done: Callable[[FileOutcome], None] | None = None,
) -> list[FileOutcome]:
    """Predict on every file, writing out_dir/<stem>.json (+ .png) and out_dir/summary.csv."""
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for item in items:
        outcome = predict_file(item, predictor, out_dir, conf=conf, iou=iou, save_images=save_images)
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    with open(out_dir / SUMMARY_FILENAME, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(o.csv_row() for o in outcomes)
    return outcomes
