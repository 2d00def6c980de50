"""`EvalReport`: the typed record of one evaluation, as eval.json holds it (format `bonefrac.eval/2`).

Every metric is a `Metric(value, ci95)`; `value` is None where the metric is undefined (recall without ground
truth), `ci95` is None without bootstrap. Keys follow the training run's metrics.json (`map50`, `map50_95`,
`precision`, `recall`): one naming for every file the project writes. Pure data: pydantic only.
"""

from __future__ import annotations

import math
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, field_validator

EVAL_FORMAT: Final = "bonefrac.eval/2"
OLD_EVAL_FORMATS = ("bonefrac.eval/1",)


class Record(BaseModel):
    """Frozen, and strict about keys: a typo or a field from another version fails loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Metric(Record):
    """A value with its 95 % bootstrap interval; NaN and infinities (undefined) become None."""

    value: float | None = None
    ci95: tuple[float, float] | None = None

    @field_validator("value", mode="before")
    @classmethod
    def _undefined_is_none(cls, value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value


class BoxScores(Record):
    """Box detection metrics of a set of images: COCO AP (101-point) and P/R/F1 at the threshold (IoU 0.5)."""

    map50: Metric
    map50_95: Metric
    precision: Metric
    recall: Metric
    f1: Metric


class ClassBoxMetrics(Record):
    ap50: Metric
    ap50_95: Metric
    precision: Metric
    recall: Metric
    f1: Metric


class BoxConfusion(Record):
    tp: int
    fp: int
    fn: int


class PrCurve(Record):
    """Raw PR points at IoU 0.5 (thinned) and the COCO 101-point interpolated envelope."""

    recall: list[float]
    precision: list[float]
    score: list[float]
    recall_points: list[float]
    interpolated_precision: list[float]


class UltralyticsClass(Record):
    ap50: float
    ap50_95: float


class UltralyticsFigures(Record):
    """ultralytics' own `model.val()` numbers for a .pt (its interpolation; P/R at its max-F1 confidence)."""

    source: str = ""
    version: str | None = None
    map50: float | None = None
    map50_95: float | None = None
    precision: float | None = None
    recall: float | None = None
    per_class: dict[str, UltralyticsClass] = {}
    error: str | None = None  # set instead of the numbers when ultralytics' validation failed


class BoxMetrics(BoxScores):
    """Box level over every image of the split (background images count: their boxes are false positives)."""

    per_class: dict[str, ClassBoxMetrics]
    confusion: BoxConfusion
    pr_curves: dict[str, PrCurve]
    ultralytics: UltralyticsFigures | None = None


class FracturedOnlyBox(BoxScores):
    """Box level over only the images with at least one ground-truth box (the FracAtlas paper's protocol)."""

    images: int
    boxes: int


class ImageConfusion(Record):
    tp: int
    fn: int
    fp: int
    tn: int


class RocCurve(Record):
    fpr: list[float]
    tpr: list[float]
    thresholds: list[float | None]  # the first point (nothing called) has no finite threshold


class ImageMetrics(Record):
    """Image level: an image's score is its highest box confidence (0 without boxes)."""

    auroc: Metric
    sensitivity: Metric
    specificity: Metric
    threshold: float
    confusion: ImageConfusion
    roc: RocCurve


class FrocPoint(Record):
    fp_per_image: float
    sensitivity: Metric


class FrocCurve(Record):
    fp_per_image: list[float]
    sensitivity: list[float]
    threshold: list[float]


class FrocMetrics(Record):
    score: Metric  # mean lesion sensitivity at the points' false-positive rates
    points: list[FrocPoint]
    curve: FrocCurve


class OperatingChoice(Record):
    """A threshold and how it was found."""

    threshold: float
    rule: str  # as written into the card: "target_sensitivity=0.9", "max_f1", "fixed", or the card's own
    split: str | None
    reached: bool = True  # False when the target sensitivity cannot be reached at any threshold
    note: str = ""


class BackgroundMetrics(Record):
    """Boxes at the threshold on images without fractures."""

    images: int
    fp_boxes: int
    images_with_fp: int
    fp_boxes_per_image: Metric
    image_fp_rate: Metric


class SizeLimits(Record):
    small: str
    medium: str
    large: str
    relative: tuple[float, float]  # box area / image area between small|medium and medium|large


class SizeMetrics(Record):
    boxes: int
    ap50: Metric
    ap50_95: Metric
    recall: Metric


class SizeBreakdown(Record):
    limits: SizeLimits
    small: SizeMetrics
    medium: SizeMetrics
    large: SizeMetrics

    def sizes(self) -> dict[str, SizeMetrics]:
        return {"small": self.small, "medium": self.medium, "large": self.large}


class GroupMetrics(Record):
    """The main metrics of one group of images (a metadata breakdown)."""

    images: int
    positive_images: int
    map50: Metric
    map50_95: Metric
    box_recall: Metric
    auroc: Metric
    sensitivity: Metric
    specificity: Metric
    froc_score: Metric


class MetadataBreakdown(Record):
    column: str
    csv: str
    images_without_row: int
    groups: dict[str, GroupMetrics]


class Counts(Record):
    images: int
    positive_images: int
    background_images: int
    boxes: int


class BootstrapSettings(Record):
    resamples: int
    seed: int
    method: str


class EvalMethod(Record):
    """How boxes and images were counted (stated in eval.json and in the report)."""

    iou_thresholds_ap: list[float]
    ap_interpolation: str
    max_dets_per_image_for_ap: int
    iou_for_threshold_metrics_and_froc: float
    image_score: str
    fractured_only: str
    bootstrap: BootstrapSettings


class ModelInfo(Record):
    weights: str
    kind: Literal["pt", "onnx"]
    sha256: str
    imgsz: int | None
    class_names: list[str]
    engine: str = "onnxruntime"  # what ran the model: an ONNX engine, or ultralytics for .pt


class DataInfo(Record):
    yaml: str
    split: str
    fingerprint: str
    conf_floor: float
    skipped_images: list[str]


class ImageScoreAuroc(Record):
    """Image-level AUROC of each score: detector (highest box), classifier probability, their fusion."""

    detector: Metric
    classifier: Metric | None = None
    fused: Metric | None = None
    classifier_weight: float | None = None  # fused = w * classifier + (1 - w) * detector


class TierMetrics(Record):
    """One operating point of the two-tier output, measured on this split."""

    image_threshold: float
    box_threshold: float
    target: str
    reached: bool
    sensitivity: Metric  # image level, on the image score
    specificity: Metric
    confusion: ImageConfusion
    box_precision: Metric  # boxes at the tier's box threshold, IoU 0.5, every image
    box_recall: Metric


class TwoTierMetrics(Record):
    """High-sensitivity and high-specificity operating points (chosen on `chosen_on`), measured here."""

    image_score: Literal["fused", "detector"]
    classifier_weight: float
    chosen_on: str | None
    auroc: ImageScoreAuroc
    high_sensitivity: TierMetrics
    high_specificity: TierMetrics
    classifier: dict[str, str] | None = None  # file, sha256 of the classifier evaluated


class EvalMetrics(Record):
    """What the evaluation measured, before the provenance is attached."""

    box: BoxMetrics
    box_fractured_only: FracturedOnlyBox
    image: ImageMetrics
    froc: FrocMetrics
    operating_point: OperatingChoice
    background: BackgroundMetrics
    by_size: SizeBreakdown
    by_metadata: MetadataBreakdown | None = None
    two_tier: TwoTierMetrics | None = None
    counts: Counts
    settings: EvalMethod


class EvalReport(EvalMetrics):
    """One evaluation of one model on one split: eval.json."""

    format: Literal["bonefrac.eval/2"] = EVAL_FORMAT
    model: ModelInfo
    data: DataInfo
    produced_by: dict[str, str]
    seconds: float
