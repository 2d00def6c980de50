"""Hand-built public results (bonefrac.infer.result_schema) for the DICOM results tests."""

from __future__ import annotations

from bonefrac.infer.result_schema import (
    DetectionOut,
    ImageInfo,
    ImageResult,
    ModelInfo,
    OperatingPointsInfo,
    TierInfo,
)

BOXES = (
    ([40.5, 60.25, 110.0, 150.75], 0.83, "high_specificity"),
    ([150.0, 20.0, 200.5, 90.0], 0.21, "high_sensitivity"),
)


def image_result(width: int, height: int, boxes=BOXES, call: str = "high_specificity") -> ImageResult:
    tier = TierInfo(image_threshold=0.25, box_threshold=0.13, target="specificity>=0.9")
    return ImageResult(
        model=ModelInfo(
            name="bonefrac-test-detector", version="2026.12.05", sha256="ab" * 32, stand_in=False
        ),
        image=ImageInfo(
            width=width,
            height=height,
            format="dicom",
            bytes=1000,
            sha256="cd" * 32,
            fracture_probability=0.71 if boxes else 0.04,
            score=0.62 if boxes else 0.03,
            call=call if boxes else "negative",
        ),
        operating_points=OperatingPointsInfo(
            image_score="fused",
            classifier_weight=0.65,
            tiered=True,
            high_specificity=tier,
            high_sensitivity=TierInfo(image_threshold=0.09, box_threshold=0.02, target="sensitivity>=0.9"),
        ),
        threshold=0.02,
        detections=[
            DetectionOut(
                class_id=0,
                class_name="fractured",
                confidence=confidence,
                xyxy=xyxy,
                width_px=xyxy[2] - xyxy[0],
                height_px=xyxy[3] - xyxy[1],
                tier=tier_name,
            )
            for xyxy, confidence, tier_name in boxes
        ],
    )
