"""Ground truth in the UI: the reference boxes of an image (a YOLO label file or a DICOM structured report)
and the verdict per image.

A label file is found beside a demo image (`labels/<stem>.txt` in the demo folder, or `<stem>.txt` next to the
image) or uploaded with the image under the same stem. Lines are read by evaluation's own parser
(`truth_from_label_lines`). A DICOM structured report uploaded with DICOM images is the reference of each
image it refers to: its SCOORD regions on that image (TID 1500 findings, bonefrac's own reports) as boxes,
none when it refers to the image without a region. Shown boxes are matched to reference boxes by
evaluation's COCO-exact matching (`match_image`) at IoU 0.5 within each class, so the UI judges as
`bonefrac evaluate` counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

from bonefrac.evaluate.matching import match_image
from bonefrac.evaluate.predictions import truth_from_label_lines
from bonefrac.imaging.dicom_sr import (
    StructuredReport,
    sop_instance_uid,
    structured_report_or_none,
)
from bonefrac.records import Detections

MATCH_IOU = 0.5
LABEL_SUFFIX = ".txt"
LABELS_DIR = "labels"
ACCEPTED_LABELS_TEXT = (
    "YOLO label files (.txt) named like their image (wrist.png + wrist.txt): one `class cx cy w h` line per "
    "fracture, normalised to 0..1 (an empty file: no fracture); or, with DICOM images, a DICOM structured "
    "report (SR) whose regions (SCOORD) mark the fractures on the images it refers to."
)


@dataclass(frozen=True)
class Reference:
    """The reference (ground-truth) boxes of one image in pixels, where they came from, and lines skipped."""

    xyxy: np.ndarray  # (G, 4) float64
    class_id: np.ndarray  # (G,) int64
    source: str  # "labels/IMG0001.txt beside the demo image", "uploaded wrist.txt"
    skipped_lines: int = 0  # lines of the file that are not a usable box

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])


@dataclass(frozen=True)
class Verdict:
    """How the shown boxes compare with the reference: per shown box, per reference box, and in words."""

    box_found: tuple[bool, ...]  # per shown box: it matches a reference box (IoU >= 0.5, same class)
    reference_found: tuple[bool, ...]  # per reference box: a shown box matches it

    @property
    def found(self) -> int:
        return sum(self.reference_found)

    @property
    def missed(self) -> int:
        return len(self.reference_found) - self.found

    @property
    def false_alarms(self) -> int:
        return len(self.box_found) - sum(self.box_found)

    @property
    def outcome(self) -> str:
        """One word for the image: "found", "missed", "partly found", "false alarm" or "true negative"."""
        if self.reference_found:
            if self.missed == 0:
                return "found"
            return "missed" if self.found == 0 else "partly found"
        return "false alarm" if self.box_found else "true negative"

    def sentence(self) -> str:
        """The verdict in words, e.g. "found: 1 of 1 reference fracture found; no false alarm"."""
        fractures = len(self.reference_found)
        if fractures:
            noun = "fracture" if fractures == 1 else "fractures"
            parts = [f"{self.found} of {fractures} reference {noun} found"]
            if self.missed:
                parts.append(f"{self.missed} missed")
        else:
            parts = ["no fracture in the reference"]
        alarms = self.false_alarms
        parts.append("no false alarm" if not alarms else f"{alarms} false alarm{'s' if alarms != 1 else ''}")
        return f"{self.outcome}: {'; '.join(parts)}"


def reference_from_text(text: str, source: str, width: int, height: int, n_classes: int) -> Reference:
    """A YOLO label file's text as pixel boxes for a width x height image (unreadable lines are skipped and
    counted; boxes are clipped to the image)."""
    lines = [line for line in text.lstrip("\ufeff").splitlines() if line.strip()]
    truth = truth_from_label_lines(lines, Path(source), width, height, max(1, n_classes))
    return Reference(truth.xyxy, truth.class_id, source, skipped_lines=len(lines) - len(truth.xyxy))


def reference_from_report(report: StructuredReport, image_uid: str, source: str) -> Reference | None:
    """The report's regions on the image `image_uid` as class-0 pixel boxes; None when the report does not
    refer to that image at all (an empty reference when it refers to it without a region: no fracture)."""
    if image_uid not in report.referenced_uids:
        return None
    boxes = [region.box() for region in report.regions_on(image_uid)]
    xyxy = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return Reference(xyxy, np.zeros(len(boxes), dtype=np.int64), source)


def reports_for_images(
    images: Iterable[tuple[str, bytes]], reports: Iterable[tuple[str, StructuredReport]]
) -> tuple[dict[str, Reference], list[str]]:
    """The reference of each uploaded DICOM image (by name) from the uploaded reports that refer to it, and
    the names of reports that refer to no uploaded image (to tell the user)."""
    reports = list(reports)
    if not reports:  # no DICOM header is read on a page without reports
        return {}, []
    uids = {name: sop_instance_uid(data) for name, data in images}
    references: dict[str, Reference] = {}
    used: set[str] = set()
    for report_name, report in reports:
        for image_name, uid in uids.items():
            reference = None if uid is None else reference_from_report(report, uid, f"uploaded {report_name}")
            if reference is not None and image_name not in references:
                references[image_name] = reference
                used.add(report_name)
    unused = sorted({name for name, _ in reports} - used)
    return references, unused


def label_file_for(image: Path) -> Path | None:
    """The label file of an image on disk: `labels/<stem>.txt` in its folder (a demo folder), else
    `<stem>.txt` beside it; None when neither exists."""
    image = Path(image)
    for candidate in (
        image.parent / LABELS_DIR / f"{image.stem}{LABEL_SUFFIX}",
        image.with_suffix(LABEL_SUFFIX),
    ):
        if candidate.is_file():
            return candidate
    return None


def label_source(label: Path, image: Path) -> str:
    """How a found label file is named in the UI, relative to its image's folder."""
    return f"{label.relative_to(image.parent).as_posix()} beside the image"


@dataclass(frozen=True)
class Uploads:
    """Uploaded files sorted: images to analyse, YOLO label texts by stem (name, text), structured reports."""

    images: list[tuple[str, bytes]]
    labels: dict[str, tuple[str, str]]
    reports: list[tuple[str, StructuredReport]]


def split_uploads(files: Iterable[tuple[str, bytes]]) -> Uploads:
    """Uploaded files sorted: a `.txt` file is a label file for the image of the same stem, a DICOM
    structured report the reference of the DICOM images it refers to; everything else is an image."""
    images: list[tuple[str, bytes]] = []
    labels: dict[str, tuple[str, str]] = {}
    reports: list[tuple[str, StructuredReport]] = []
    for name, data in files:
        if PurePath(name).suffix.lower() == LABEL_SUFFIX:
            labels[PurePath(name).stem] = (name, data.decode("utf-8", errors="replace"))
        elif (report := structured_report_or_none(data, name)) is not None:
            reports.append((name, report))
        else:
            images.append((name, data))
    return Uploads(images, labels, reports)


def unpaired_labels(images: Iterable[str], labels: dict[str, tuple[str, str]]) -> list[str]:
    """Names of uploaded label files whose stem matches no uploaded image (to tell the user)."""
    stems = {PurePath(name).stem for name in images}
    return sorted(name for stem, (name, _) in labels.items() if stem not in stems)


def judge(detections: Detections, reference: Reference, iou: float = MATCH_IOU) -> Verdict:
    """Match the shown boxes to the reference within each class, greedily by confidence as COCOeval does."""
    box_found = np.zeros(len(detections), dtype=bool)
    reference_found = np.zeros(len(reference), dtype=bool)
    thresholds = np.array([iou], dtype=np.float64)
    classes = np.union1d(detections.class_id, reference.class_id)
    for cls in classes:
        det_index = np.flatnonzero(detections.class_id == cls)
        det_index = det_index[np.argsort(-detections.confidence[det_index], kind="mergesort")]
        ref_index = np.flatnonzero(reference.class_id == cls)
        tp, _, gt_matched = match_image(
            detections.xyxy[det_index].astype(np.float64),
            reference.xyxy[ref_index],
            np.zeros(len(ref_index), dtype=bool),
            np.zeros(len(det_index), dtype=bool),
            thresholds,
        )
        box_found[det_index] = tp[0]
        reference_found[ref_index] = gt_matched[0]
    return Verdict(tuple(bool(v) for v in box_found), tuple(bool(v) for v in reference_found))
