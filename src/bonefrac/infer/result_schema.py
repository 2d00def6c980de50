"""The one public, versioned schema for what bonefrac says about one image: `bonefrac predict` writes it (one
JSON per image), the service's `POST /v1/detect` answers it (with `request_id` and `timings`), and the UI's
JSON download is it. `bonefrac schema` prints its JSON Schema; docs/schema.md documents it.

    result = image_result(analyser, finding, radiograph, size_bytes=len(data), sha256=digest, file_name=name)
    result.model_dump(mode="json")

Every object refuses unknown keys, so the published JSON Schema says exactly what a document may hold.
`SCHEMA_VERSION` changes with the shape: the minor number when fields are added, the major number when a
field is renamed, removed or changes meaning. Pure pydantic over the analyser's records; no onnxruntime,
no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bonefrac.card.record import Tier
from bonefrac.infer.tiers import BoxTier, ImageCall
from bonefrac.records import Radiograph

if TYPE_CHECKING:
    from bonefrac.infer.analysis import FractureAnalyser, ImageFinding

SCHEMA_VERSION: Literal["1.0"] = "1.0"
SCHEMA_ID = f"urn:bonefrac:schema:image-result:{SCHEMA_VERSION}"


class _Strict(BaseModel):
    # unknown keys refused; every field (defaults included) required in the published schema: always written
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class ClassifierInfo(_Strict):
    name: str
    version: str
    sha256: str


class ModelInfo(_Strict):
    name: str
    version: str
    sha256: str
    stand_in: bool = Field(
        description="True for a stand-in model trained on synthetic data: not for real use."
    )
    classifier: ClassifierInfo | None = Field(
        None, description="The image-level classifier served beside the detector; null without one."
    )


class TierInfo(_Strict):
    image_threshold: float = Field(description="An image is called at this tier when its score >= this.")
    box_threshold: float = Field(description="A box is drawn at this tier when its confidence >= this.")
    target: str = Field(description='What the tier was chosen for, e.g. "specificity>=0.9" or "max_f1".')


class OperatingPointsInfo(_Strict):
    image_score: Literal["fused", "detector"] = Field(
        description="fused: classifier_weight * fracture_probability + (1 - classifier_weight) * the "
        "detector's highest box confidence; detector: that confidence alone."
    )
    classifier_weight: float
    tiered: bool = Field(
        description="True when the model card has two operating points; false: its single operating "
        "point serves as both tiers (every box at or above it is solid)."
    )
    high_specificity: TierInfo
    high_sensitivity: TierInfo
    min_confidence: float | None = Field(
        None,
        description="The request's threshold: it replaces the high-sensitivity box threshold, shows boxes "
        "on images of any call and drops every box below it; null when none was given.",
    )


class ImageInfo(_Strict):
    width: int
    height: int
    format: str = Field(
        description="Format found from the content (not the file name): png, jpeg, dicom, ..."
    )
    bytes: int
    sha256: str
    pixel_spacing_mm: list[float] | None = Field(None, description="Row and column spacing in mm, if known.")
    fracture_probability: float | None = Field(
        description="The image classifier's probability of a fracture; null when no classifier is served."
    )
    score: float = Field(description="The image score the operating points' image thresholds apply to.")
    call: ImageCall = Field(
        description="The strictest operating point the score reaches: high_specificity, high_sensitivity, "
        "or negative."
    )


class DetectionOut(_Strict):
    class_id: int
    class_name: str
    confidence: float = Field(ge=0.0, le=1.0)
    xyxy: list[float] = Field(
        min_length=4, max_length=4, description="Box corners x1, y1, x2, y2 in original image pixels."
    )
    width_px: float
    height_px: float
    width_mm: float | None = Field(None, description="Box width in mm when the image carries pixel spacing.")
    height_mm: float | None = Field(
        None, description="Box height in mm when the image carries pixel spacing."
    )
    tier: BoxTier = Field(description="high_specificity (drawn solid) or high_sensitivity (drawn dashed).")


class Timings(_Strict):
    queue_ms: float = Field(description="Waiting for a free inference slot.")
    inference_ms: float = Field(description="Decoding the image and running the model(s).")
    total_ms: float = Field(description="From request arrival to the answer.")


class ImageResult(_Strict):
    """Everything bonefrac says about one image: model, image facts and call, operating points, boxes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_serialization_defaults_required=True,
        title="bonefrac image result",
        json_schema_extra={"$id": SCHEMA_ID},
    )

    schema_version: Literal["1.0"] = Field(
        default=SCHEMA_VERSION,
        description="Version of this schema: the major number changes when a field is renamed, removed or "
        "changes meaning; the minor number when fields are added.",
    )
    file_name: str | None = Field(
        default=None,
        description="The analysed file as the client named it: the upload's file name (API, UI) or the path "
        "`bonefrac predict` read; null when the client gave no name.",
    )
    model: ModelInfo
    image: ImageInfo
    operating_points: OperatingPointsInfo
    threshold: float = Field(
        description="The lowest confidence a box in `detections` can have: the request's threshold, else "
        "the high-sensitivity box threshold."
    )
    detections: list[DetectionOut]
    request_id: str | None = Field(
        default=None,
        description="The service's id of the request (also in the X-Request-ID header); null elsewhere.",
    )
    timings: Timings | None = Field(default=None, description="The service's timings; null elsewhere.")


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one image's result, as `bonefrac schema` prints it."""
    schema = ImageResult.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def model_info(analyser: FractureAnalyser) -> ModelInfo:
    """The served detector (and classifier) as the answers name them."""
    card, classifier = analyser.card, analyser.classifier
    return ModelInfo(
        name=card.name,
        version=card.version,
        sha256=analyser.detector.sha256,
        stand_in=card.stand_in,
        classifier=None
        if classifier is None
        else ClassifierInfo(
            name=classifier.card.name, version=classifier.card.version, sha256=classifier.sha256
        ),
    )


def _tier(tier: Tier) -> TierInfo:
    return TierInfo(
        image_threshold=tier.image_threshold, box_threshold=tier.box_threshold, target=tier.target
    )


def operating_points_info(
    analyser: FractureAnalyser, min_confidence: float | None = None
) -> OperatingPointsInfo:
    """The analyser's operating points, with the caller's threshold when one was given."""
    points = analyser.points
    return OperatingPointsInfo(
        image_score=points.image_score,
        classifier_weight=points.classifier_weight,
        tiered=analyser.tiered,
        high_specificity=_tier(points.high_specificity),
        high_sensitivity=_tier(points.high_sensitivity),
        min_confidence=min_confidence,
    )


def detections_out(finding: ImageFinding, image: Radiograph) -> list[DetectionOut]:
    """Each drawn box with its size (in mm too when the image gives a pixel spacing) and tier."""
    spacing = image.pixel_spacing_mm
    out = []
    for item, tier in zip(finding.detections.to_list(), finding.box_tiers, strict=True):
        x1, y1, x2, y2 = item["xyxy"]
        width, height = x2 - x1, y2 - y1
        out.append(
            DetectionOut(
                **item,
                width_px=round(width, 2),
                height_px=round(height, 2),
                width_mm=round(width * spacing[1], 2) if spacing else None,
                height_mm=round(height * spacing[0], 2) if spacing else None,
                tier=tier,
            )
        )
    return out


def image_result(
    analyser: FractureAnalyser,
    finding: ImageFinding,
    image: Radiograph,
    *,
    size_bytes: int,
    sha256: str,
    file_name: str | None = None,
) -> ImageResult:
    """The public result for one analysed image; `size_bytes` and `sha256` describe the file as received,
    `file_name` is the name the client gave it."""
    probability = finding.fracture_probability
    return ImageResult(
        file_name=file_name,
        model=model_info(analyser),
        image=ImageInfo(
            width=image.width,
            height=image.height,
            format=image.source_format,
            bytes=size_bytes,
            sha256=sha256,
            pixel_spacing_mm=list(image.pixel_spacing_mm) if image.pixel_spacing_mm else None,
            fracture_probability=None if probability is None else round(float(probability), 5),
            score=round(float(finding.image_score), 5),
            call=finding.call,
        ),
        operating_points=operating_points_info(analyser, finding.min_confidence),
        threshold=analyser.threshold(finding.min_confidence),
        detections=detections_out(finding, image),
    )
