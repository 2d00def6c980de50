"""The findings on one radiograph as a DICOM Comprehensive 3D SR following TID 1500 (Measurement Report).

One image-level group says whether a fracture was found (present or absent: a report without boxes still
states its result), the image score and the operating point reached; one planar ROI group per box gives its
rectangle as an SCOORD POLYLINE in the source image's pixel coordinates (referencing its SOP Instance UID),
the detector's confidence and the box's tier. The model's name, version and sha256 identify the algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from bonefrac.dicom_out import codes as bf
from bonefrac.dicom_out.series import ResultSeries
from bonefrac.dicom_out.source import check_source, identity_of
from bonefrac.errors import ImageError
from bonefrac.infer.result_schema import ImageResult

MANUFACTURER = "bonefrac"
REPORT_SERIES_DESCRIPTION = "bonefrac fracture findings (research use only)"


def _algorithm(result: ImageResult) -> hd.sr.AlgorithmIdentification:
    model = result.model
    parameters = [f"detector sha256 {model.sha256}"]
    if model.classifier is not None:
        parameters.append(
            f"classifier {model.classifier.name} {model.classifier.version} sha256 {model.classifier.sha256}"
        )
    return hd.sr.AlgorithmIdentification(
        name=model.name, version=model.version, parameters=parameters, manufacturer=MANUFACTURER
    )


def _observation_context(result: ImageResult) -> hd.sr.ObservationContext:
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=generate_uid(entropy_srcs=[result.model.sha256]),  # one device UID per model
        name=result.model.name,
        manufacturer_name=MANUFACTURER,
        model_name=result.model.version,
    )
    return hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device, observer_identifying_attributes=device
        )
    )


def _rectangle(xyxy: list[float]) -> np.ndarray:
    """A closed POLYLINE around the box, (column, row) pairs, DICOM's top-left pixel corner at (0, 0)."""
    x1, y1, x2, y2 = xyxy
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]], dtype=np.float32)


def _image_group(
    source: Dataset, result: ImageResult, algorithm: hd.sr.AlgorithmIdentification
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    image = result.image
    found = bf.ABSENT if image.call == "negative" else bf.PRESENT
    measurements = [hd.sr.Measurement(name=bf.IMAGE_SCORE, value=image.score, unit=bf.NO_UNITS)]
    if image.fracture_probability is not None:
        measurements.append(
            hd.sr.Measurement(
                name=bf.FRACTURE_PROBABILITY, value=image.fracture_probability, unit=bf.NO_UNITS
            )
        )
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=generate_uid(), identifier="Image result"),
        finding_type=bf.FRACTURE,
        algorithm_id=algorithm,
        measurements=measurements,
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(name=bf.FRACTURE, value=found),
            hd.sr.QualitativeEvaluation(name=bf.OPERATING_POINT, value=bf.TIERS[image.call]),
        ],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
    )


def _box_groups(
    source: Dataset, result: ImageResult, algorithm: hd.sr.AlgorithmIdentification
) -> list[hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations]:
    groups = []
    for number, box in enumerate(result.detections, start=1):
        region = hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
            graphic_data=_rectangle(box.xyxy),
            source_image=hd.sr.SourceImageForRegion.from_source_image(source),
        )
        groups.append(
            hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(
                    uid=generate_uid(), identifier=f"Fracture {number}"
                ),
                referenced_region=region,
                finding_type=bf.FRACTURE,
                algorithm_id=algorithm,
                measurements=[hd.sr.Measurement(name=bf.CONFIDENCE, value=box.confidence, unit=bf.NO_UNITS)],
                qualitative_evaluations=[
                    hd.sr.QualitativeEvaluation(name=bf.OPERATING_POINT, value=bf.TIERS[box.tier])
                ],
            )
        )
    return groups


def structured_report(source: Dataset, result: ImageResult, series: ResultSeries) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 report of `result` (the analysis of `source`), filed into `source`'s study."""
    check_source(source)
    source = identity_of(source)  # nothing else of its header may reach the result
    algorithm = _algorithm(result)
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(result),
        procedure_reported=bf.PROCEDURE,
        imaging_measurements=[
            _image_group(source, result, algorithm),
            *_box_groups(source, result, algorithm),
        ],
        title=codes.cid7021.ImagingMeasurementReport,
    )
    return hd.sr.Comprehensive3DSR(
        evidence=[source],
        content=report,
        series_instance_uid=series.report_series_uid,
        series_number=series.report_series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,  # an algorithm's unverified findings, for a reader to confirm
        is_verified=False,
        series_description=REPORT_SERIES_DESCRIPTION,
        coding_schemes=[bf.private_scheme_item()],
    )


@dataclass(frozen=True)
class ReportedBox:
    """One box as a structured report states it (what a reader gets back)."""

    xyxy: tuple[float, float, float, float]
    confidence: float
    tier: str
    referenced_sop_instance_uid: str


@dataclass(frozen=True)
class ReportedResult:
    """What a bonefrac structured report says: the image call, the score and the boxes."""

    fracture_found: bool
    call: str
    score: float
    boxes: tuple[ReportedBox, ...]


def read_report(dataset: Dataset) -> ReportedResult:
    """Read a bonefrac TID 1500 report back (highdicom's parser); ImageError when it is not one."""
    try:
        report = hd.sr.Comprehensive3DSR.from_dataset(dataset, copy=True).content
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ImageError(f"not a TID 1500 measurement report ({type(exc).__name__}: {exc})") from exc
    image_groups = (
        report.get_image_measurement_groups() if isinstance(report, hd.sr.MeasurementReport) else []
    )
    if not isinstance(report, hd.sr.MeasurementReport) or not image_groups:
        raise ImageError("not a TID 1500 measurement report with an image-level result, as bonefrac writes")
    roi_groups = report.get_planar_roi_measurement_groups()
    head = image_groups[0]
    found = _evaluation(head, bf.FRACTURE)
    call = bf.TIER_OF_CODE.get(_evaluation(head, bf.OPERATING_POINT), "negative")
    score = _measurement(head, bf.IMAGE_SCORE)
    boxes = []
    for group in roi_groups:
        roi = group.roi
        if not isinstance(roi, hd.sr.ImageRegion):  # bonefrac writes 2D image regions only
            continue
        points = roi.value
        references = [
            reference
            for item in roi.get("ContentSequence", [])
            for reference in item.get("ReferencedSOPSequence", [])
        ]
        boxes.append(
            ReportedBox(
                xyxy=(
                    float(points[:, 0].min()),
                    float(points[:, 1].min()),
                    float(points[:, 0].max()),
                    float(points[:, 1].max()),
                ),
                confidence=_measurement(group, bf.CONFIDENCE),
                tier=bf.TIER_OF_CODE.get(_evaluation(group, bf.OPERATING_POINT), "unknown"),
                referenced_sop_instance_uid=str(references[0].ReferencedSOPInstanceUID) if references else "",
            )
        )
    return ReportedResult(found == bf.PRESENT.value, call, score, tuple(boxes))


_Group = hd.sr.MeasurementsAndQualitativeEvaluations | hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations


def _evaluation(group: _Group, name: Code) -> str:
    """The code value of the group's qualitative evaluation `name` ("" without one)."""
    items = group.get_qualitative_evaluations(name=name)
    return str(cast(hd.sr.CodedConcept, items[0].value).value) if items else ""


def _measurement(group: _Group, name: Code) -> float:
    items = group.get_measurements(name=name)
    return float(items[0].value) if items else float("nan")
