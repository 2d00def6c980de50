"""One radiograph in, everything the product says about it out: boxes with their tier, the classifier's
fracture probability, the image score and the image's call. Never imports torch.

    analyser = FractureAnalyser.from_model("deploy/model/model.onnx", threads=2)
    finding = analyser.analyse(load_image("wrist.dcm"))
    finding.call, finding.fracture_probability, finding.detections, finding.box_tiers

The classifier is the card's `classifier` (a file beside the detector); a card without one analyses with the
detector alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bonefrac.card.classifier import ClassifierCard
from bonefrac.card.record import ModelCard, OperatingPoints
from bonefrac.errors import ModelError
from bonefrac.infer.engines import DEFAULT_ENGINE
from bonefrac.infer.tiers import BoxTier, ImageCall, box_tiers, image_call, image_score, points_for
from bonefrac.records import Detections, Radiograph

# Boxes are found down to this confidence so the image score sees the detector's highest box, as evaluation
# does (bonefrac.evaluate.predictions.DEFAULT_CONF_FLOOR); only tiered boxes are kept in the finding.
SCORE_FLOOR = 0.001


class Detector(Protocol):
    """What the analyser needs from a detector (`bonefrac.infer.predictor.Predictor`; tests inject others)."""

    card: ModelCard
    sha256: str
    input_size: int

    def predict(self, image: Radiograph, conf: float | None = None, iou: float = 0.7) -> Detections: ...


class Classifier(Protocol):
    """What the analyser needs from a classifier (`bonefrac.infer.classifier.FractureClassifier`)."""

    card: ClassifierCard
    sha256: str

    def probability(self, image: Radiograph) -> float: ...


@dataclass(frozen=True)
class ImageFinding:
    """What the product says about one image."""

    detections: Detections  # the boxes drawn, strongest first
    box_tiers: tuple[BoxTier, ...]  # "high_specificity" (solid) or "high_sensitivity" (dashed), one per box
    detector_score: float  # the detector's highest box confidence (0 without boxes)
    fracture_probability: float | None  # the classifier's, None without a classifier
    image_score: float  # what the tiers' image thresholds apply to
    call: ImageCall
    min_confidence: float | None = None  # the caller's threshold, in place of the dashed tier's box threshold

    def __post_init__(self) -> None:
        if len(self.box_tiers) != len(self.detections):
            raise ValueError(
                f"box_tiers must have one entry per box ({len(self.detections)}), got {len(self.box_tiers)}"
            )


class FractureAnalyser:
    """A detector, an optional classifier and the card's operating points; safe to share between threads."""

    def __init__(self, detector: Detector, classifier: Classifier | None = None) -> None:
        self.detector = detector
        self.classifier = classifier
        self.card: ModelCard = detector.card
        self.points: OperatingPoints = points_for(self.card)
        if self.points.image_score == "fused" and classifier is None:
            raise ModelError(
                f"the model card of {getattr(detector, 'model_path', 'the detector')} fuses an image "
                "classifier's probability into the image score, but no classifier was loaded; put "
                f"{self.card.classifier.file if self.card.classifier else 'classifier.onnx'} beside the model"
            )

    @classmethod
    def from_model(
        cls,
        model_path: Path | str,
        threads: int | None = None,
        engine: str = DEFAULT_ENGINE,
        concurrency: int = 1,
    ) -> FractureAnalyser:
        """The detector at `model_path` and, when its card names one, the classifier beside it, both run by
        `engine` (onnxruntime or openvino) for up to `concurrency` callers at once."""
        from bonefrac.infer.predictor import Predictor

        detector = Predictor(model_path, threads=threads, engine=engine, concurrency=concurrency)
        classifier = load_card_classifier(
            detector.card, Path(model_path).parent, threads, engine, concurrency
        )
        return cls(detector, classifier)

    @property
    def tiered(self) -> bool:
        """True when the card has two operating points; False: its single one serves as both."""
        return self.card.operating_points is not None

    def threshold(self, min_confidence: float | None = None) -> float:
        """The lowest confidence a drawn box can have: `min_confidence`, else the dashed tier's threshold."""
        return self.points.high_sensitivity.box_threshold if min_confidence is None else float(min_confidence)

    def analyse(
        self, image: Radiograph, min_confidence: float | None = None, iou: float = 0.7
    ) -> ImageFinding:
        """Boxes, probability, score and call for one image; `min_confidence` overrides the dashed tier."""
        if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1] or None, got {min_confidence}")
        found = self.detector.predict(image, conf=SCORE_FLOOR, iou=iou)
        top = float(found.confidence.max()) if len(found) else 0.0
        probability = self.classifier.probability(image) if self.classifier is not None else None
        score = image_score(self.points, top, probability)
        call = image_call(self.points, score)
        tiers = box_tiers(self.points, found.confidence, call, min_confidence)
        keep = np.array([t is not None for t in tiers], dtype=bool)
        return ImageFinding(
            detections=found.select(keep),
            box_tiers=tuple(t for t in tiers if t is not None),
            detector_score=top,
            fracture_probability=probability,
            image_score=score,
            call=call,
            min_confidence=min_confidence,
        )

    def describe(self) -> dict[str, Any]:
        """Facts for logs: the detector's and the classifier's own descriptions and the operating points."""
        facts = _described(self.detector, {"name": self.card.name, "sha256": self.detector.sha256})
        classifier = self.classifier
        facts["classifier"] = (
            None
            if classifier is None
            else _described(classifier, {"name": classifier.card.name, "sha256": classifier.sha256})
        )
        facts["operating_points"] = self.points.model_dump()
        return facts


def _described(engine: object, fallback: dict[str, Any]) -> dict[str, Any]:
    """An engine's own describe(), or the fallback facts for an engine without one (tests)."""
    describe = getattr(engine, "describe", None)
    return dict(describe()) if callable(describe) else fallback


def load_card_classifier(
    card: ModelCard,
    folder: Path,
    threads: int | None,
    engine: str = DEFAULT_ENGINE,
    concurrency: int = 1,
) -> Classifier | None:
    """The classifier the card names (checked against its sha256), or None when it names none."""
    if card.classifier is None:
        return None
    from bonefrac.infer.classifier import FractureClassifier

    path = Path(folder) / card.classifier.file
    if not path.is_file():
        raise ModelError(
            f"the model card names the classifier {card.classifier.file} (sha256 "
            f"{card.classifier.sha256[:12]}...), but {path} does not exist; keep it beside the model"
        )
    classifier = FractureClassifier(path, threads=threads, engine=engine, concurrency=concurrency)
    if classifier.sha256 != card.classifier.sha256:
        raise ModelError(
            f"{path} has sha256 {classifier.sha256[:12]}..., the model card names "
            f"{card.classifier.sha256[:12]}...: the card describes another classifier file"
        )
    return classifier
