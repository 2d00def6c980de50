"""Write one radiograph's DICOM results (report, and the annotated capture when asked) as Part 10 files."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from bonefrac.dicom_out.capture import annotated_capture
from bonefrac.dicom_out.report import structured_report
from bonefrac.dicom_out.series import ResultSeries
from bonefrac.dicom_out.source import read_source
from bonefrac.infer.analysis import FractureAnalyser
from bonefrac.infer.result_schema import ImageResult, image_result


@dataclass
class StudySeries:
    """One ResultSeries per study, so that every result of a study lands in the same two new series."""

    by_study: dict[str, ResultSeries] = field(default_factory=dict)

    def __call__(self, source: Dataset) -> ResultSeries:
        return self.by_study.setdefault(str(source.StudyInstanceUID), ResultSeries())


@dataclass(frozen=True)
class DicomResults:
    """The DICOM objects made for one radiograph."""

    report: Dataset
    capture: Dataset | None


def dicom_results(
    source: Dataset, result: ImageResult, annotated: np.ndarray | None, series: ResultSeries
) -> DicomResults:
    """The report of `result`, and a capture of `annotated` when given, filed into `source`'s study."""
    report = structured_report(source, result, series)
    capture = None if annotated is None else annotated_capture(source, annotated, series)
    return DicomResults(report, capture)


def part10(dataset: Dataset) -> bytes:
    """`dataset` as the bytes of a DICOM Part 10 file (what is sent, stored or analysed)."""
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_dicom_results(results: DicomResults, out_dir: Path, stem: str) -> list[Path]:
    """`<stem>.sr.dcm` (and `<stem>.sc.dcm`) in `out_dir`, as DICOM Part 10 files; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, dataset in ((".sr.dcm", results.report), (".sc.dcm", results.capture)):
        if dataset is None:
            continue
        path = out_dir / f"{stem}{suffix}"
        dataset.save_as(path, enforce_file_format=True)
        written.append(path)
    return written


def analyse_dicom(
    analyser: FractureAnalyser, data: bytes, what: str, series: StudySeries, *, capture: bool = True
) -> tuple[ImageResult, DicomResults]:
    """Analyse one DICOM radiograph (Part 10 bytes) and make its DICOM results; ImageError when unusable."""
    from bonefrac.imaging.io import load_image
    from bonefrac.imaging.render import draw_detections
    from bonefrac.infer.tiers import box_styles

    source = read_source(data, what)
    image = load_image(data, name=what)
    finding = analyser.analyse(image)
    digest = hashlib.sha256(data).hexdigest()
    result = image_result(analyser, finding, image, size_bytes=len(data), sha256=digest)
    styles = box_styles(finding.box_tiers)
    drawn = draw_detections(image, finding.detections, styles=styles) if capture else None
    return result, dicom_results(source, result, drawn, series(source))


@dataclass
class DicomOutput:
    """Writes DICOM results of a batch into one folder, each study's results in the same two new series."""

    out_dir: Path
    capture: bool = True
    series: StudySeries = field(default_factory=StudySeries)

    def write(
        self, source_path: Path, result: ImageResult, annotated: np.ndarray, stem: str
    ) -> tuple[Path, ...]:
        """The report (and capture) of `result` for the DICOM file `source_path`; the paths written."""
        source = read_source(source_path, str(source_path))
        made = dicom_results(source, result, annotated if self.capture else None, self.series(source))
        return tuple(write_dicom_results(made, self.out_dir, stem))
