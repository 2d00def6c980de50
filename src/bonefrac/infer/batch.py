"""Predict on many files: collect inputs (files, folders, globs), write annotated PNGs, JSONs, a CSV.

Each image is analysed by a `FractureAnalyser` (detector, the card's classifier, two operating points); its
JSON is the public per-image schema (`bonefrac.infer.result_schema`, as `POST /v1/detect` answers), its
`file_name` the path read. A file that cannot be read or predicted is recorded as failed (with the reason)
and the batch goes on.
"""

from __future__ import annotations

import csv
import glob
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import numpy as np

from bonefrac.errors import BonefracError, ConfigError
from bonefrac.infer.analysis import FractureAnalyser, ImageFinding
from bonefrac.infer.result_schema import ImageResult, image_result
from bonefrac.records import Radiograph

if TYPE_CHECKING:
    from bonefrac.dicom_out.write import DicomOutput

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".dcm", ".dicom", ".dic"}
SUMMARY_FILENAME = "summary.csv"
CSV_FIELDS = (
    "file",
    "status",
    "call",
    "score",
    "fracture_probability",
    "detections",
    "high_specificity_boxes",
    "high_sensitivity_boxes",
    "max_confidence",
    "positive",
    "json",
    "image",
    "error",
)


@dataclass(frozen=True)
class InputFile:
    """One file to predict on, and the stem its outputs get (unique within the batch)."""

    path: Path
    output_stem: str

    @property
    def source(self) -> str:
        """The name results carry: the path as text."""
        return str(self.path)


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file: its public result when it worked, the reason when not."""

    path: Path
    ok: bool
    result: ImageResult | None = None
    json_path: Path | None = None
    image_path: Path | None = None
    error: str | None = None
    dicom_paths: tuple[Path, ...] = ()  # the DICOM results written (--dicom-out, DICOM inputs only)

    @property
    def detections(self) -> int:
        return len(self.result.detections) if self.result else 0

    @property
    def positive(self) -> bool:
        """True when any box is drawn."""
        return self.detections > 0

    @property
    def max_confidence(self) -> float | None:
        boxes = self.result.detections if self.result else []
        return max(d.confidence for d in boxes) if boxes else None

    def tier_count(self, tier: str) -> int:
        return sum(d.tier == tier for d in self.result.detections) if self.result else 0

    def csv_row(self) -> dict[str, Any]:
        image = self.result.image if self.result else None
        probability = image.fracture_probability if image else None
        return {
            "file": str(self.path),
            "status": "ok" if self.ok else "failed",
            "call": image.call if image else "",
            "score": f"{image.score:.5f}" if image else "",
            "fracture_probability": "" if probability is None else f"{probability:.5f}",
            "detections": self.detections if self.ok else "",
            "high_specificity_boxes": self.tier_count("high_specificity") if self.ok else "",
            "high_sensitivity_boxes": self.tier_count("high_sensitivity") if self.ok else "",
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


def _with_unique_stems(paths: Sequence[Path]) -> list[InputFile]:
    return [InputFile(path, stem) for path, stem in zip(paths, unique_stems(paths), strict=True)]


def unique_stems(names: Iterable[PurePath]) -> list[str]:
    """One output stem per name, in order: the name's stem, then `_1`, `_2`... where it is taken already."""
    used: set[str] = set()
    out = []
    for name in names:
        stem = name.stem or name.name
        candidate, n = stem, 1
        while candidate in used:
            candidate = f"{stem}_{n}"
            n += 1
        used.add(candidate)
        out.append(candidate)
    return out


def result_document(result: ImageResult) -> dict[str, Any]:
    """The per-image JSON: the public result (the detect answer's shape, `file_name` the path read)."""
    return result.model_dump(mode="json")


def analyse_file(
    path: Path, analyser: FractureAnalyser, *, conf: float | None, iou: float
) -> tuple[Radiograph, ImageFinding, ImageResult]:
    """Load one file and analyse it: the image, the finding and its public result (`file_name` the path).

    Raises what loading or analysing raises (BonefracError, ValueError, OSError)."""
    from bonefrac.hashing import file_sha256
    from bonefrac.imaging.io import load_image

    image = load_image(path)
    finding = analyser.analyse(image, min_confidence=conf, iou=iou)
    result = image_result(
        analyser,
        finding,
        image,
        size_bytes=path.stat().st_size,
        sha256=file_sha256(path),
        file_name=str(path),
    )
    return image, finding, result


def analyse_bytes(
    data: bytes, name: str, analyser: FractureAnalyser, *, conf: float | None, iou: float
) -> tuple[Radiograph, ImageFinding, ImageResult]:
    """`analyse_file` for a file's bytes read elsewhere (an object store): `name` becomes `file_name`.

    The same result as `analyse_file` on the same bytes, apart from `file_name`."""
    import hashlib

    from bonefrac.imaging.io import load_image

    image = load_image(data, name=name)
    finding = analyser.analyse(image, min_confidence=conf, iou=iou)
    result = image_result(
        analyser,
        finding,
        image,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        file_name=name,
    )
    return image, finding, result


def annotated(image: Radiograph, finding: ImageFinding) -> np.ndarray:
    """The image with the finding's boxes drawn: high-specificity solid, high-sensitivity dashed."""
    from bonefrac.imaging.render import draw_detections
    from bonefrac.infer.tiers import box_styles

    return draw_detections(image, finding.detections, styles=box_styles(finding.box_tiers))


def predict_file(
    item: InputFile,
    analyser: FractureAnalyser,
    out_dir: Path,
    *,
    conf: float | None,
    iou: float,
    save_images: bool,
    dicom_out: DicomOutput | None = None,
) -> FileOutcome:
    """Load, analyse, write JSON (and the annotated PNG, and DICOM results for a DICOM input when
    `dicom_out` is given); a failure becomes a failed outcome, never raised.

    `conf` (None: the card's operating points) is the lowest box confidence, as a request's threshold is."""
    try:
        image, finding, result = analyse_file(item.path, analyser, conf=conf, iou=iou)
        json_path = out_dir / f"{item.output_stem}.json"
        payload = result_document(result)
        json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        image_path: Path | None = None
        dicom_paths: tuple[Path, ...] = ()
        wants_dicom = dicom_out is not None and image.source_format == "dicom"
        if save_images or wants_dicom:
            from bonefrac.imaging.render import encode_png

            drawn = annotated(image, finding)
            if save_images:
                image_path = out_dir / f"{item.output_stem}.png"
                image_path.write_bytes(encode_png(drawn))
            if dicom_out is not None and wants_dicom:
                dicom_paths = dicom_out.write(item.path, result, drawn, item.output_stem)
    except (BonefracError, ValueError, OSError) as exc:
        logger.warning("%s: skipped (%s)", item.path, exc)
        return FileOutcome(item.path, ok=False, error=str(exc))
    return FileOutcome(
        item.path, ok=True, result=result, json_path=json_path, image_path=image_path, dicom_paths=dicom_paths
    )


def predict_files(
    items: Sequence[InputFile],
    analyser: FractureAnalyser,
    out_dir: Path,
    *,
    conf: float | None = None,
    iou: float = 0.7,
    save_images: bool = True,
    dicom_out: DicomOutput | None = None,
    on_done: Callable[[FileOutcome], None] | None = None,
) -> list[FileOutcome]:
    """Analyse every file, writing out_dir/<stem>.json (+ .png, + DICOM results) and out_dir/summary.csv."""
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for item in items:
        outcome = predict_file(
            item, analyser, out_dir, conf=conf, iou=iou, save_images=save_images, dicom_out=dicom_out
        )
        outcomes.append(outcome)
        if on_done is not None:
            on_done(outcome)
    with open(out_dir / SUMMARY_FILENAME, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(o.csv_row() for o in outcomes)
    return outcomes
