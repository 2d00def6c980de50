"""The model card: what a shipped model is, how well it does, and at which threshold it operates.

Written as model_card.json beside the weights by export (and updated by evaluate with the operating point);
read by the predictor, the service and the UI. Pure data: no torch, no onnxruntime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bonefrac.errors import ModelError

CARD_FILENAME = "model_card.json"
MARKDOWN_FILENAME = "MODEL_CARD.md"  # the readable card beside it (`bonefrac model-card` writes it)
INT8_FILENAME = "model.int8.onnx"  # the detector's int8 copy beside model.onnx (`bonefrac quantize`)
DEFAULT_INTENDED_USE = "Research and demonstration only. Not a medical device; not for clinical decisions."


class OperatingPoint(BaseModel):
    """The confidence threshold a model is used at, and how it was chosen."""

    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(ge=0.0, le=1.0)
    rule: str  # "target_sensitivity=0.9", "max_f1", or "default"
    split: str | None = None  # the split it was chosen on
    sensitivity: float | None = None
    specificity: float | None = None


TierName = Literal["high_sensitivity", "high_specificity"]
TIER_NAMES: tuple[TierName, ...] = ("high_sensitivity", "high_specificity")


class Tier(BaseModel):
    """One of the two operating points: the image-score threshold and the box confidence a box needs."""

    model_config = ConfigDict(extra="forbid")

    image_threshold: float = Field(ge=0.0, le=1.0)  # an image is called at this tier when its score >= this
    box_threshold: float = Field(ge=0.0, le=1.0)  # a box is drawn at this tier when its confidence >= this
    target: str  # "sensitivity>=0.9" or "specificity>=0.9"
    reached: bool = True  # False when no threshold met the target on the split it was chosen on
    sensitivity: float | None = None  # image level, on that split
    specificity: float | None = None


class OperatingPoints(BaseModel):
    """High-sensitivity and high-specificity operating points, chosen together on one split.

    The image score is `classifier_weight * classifier probability + (1 - classifier_weight) * the detector's
    highest box confidence` ("fused"), or the detector's highest box confidence alone ("detector")."""

    model_config = ConfigDict(extra="forbid")

    image_score: Literal["fused", "detector"]
    classifier_weight: float = Field(0.0, ge=0.0, le=1.0)
    split: str | None = None
    high_sensitivity: Tier
    high_specificity: Tier
    auroc: dict[str, float | None] = Field(default_factory=dict)  # on that split: detector, classifier, fused


class ClassifierRef(BaseModel):
    """The image-level classifier that ships with the detector (a file in the same folder)."""

    model_config = ConfigDict(extra="forbid")

    file: str = "classifier.onnx"
    sha256: str
    version: str
    input_size: int = Field(ge=32)


class ModelCard(BaseModel):
    """Facts about one model file; `extra="forbid"` so a typo in a hand-edited card fails loudly."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    class_names: list[str]
    input_size: int
    stride: int = 32
    task: str = "detect"
    operating_point: OperatingPoint = OperatingPoint(threshold=0.25, rule="default")
    metrics: dict[str, Any] = Field(default_factory=dict)
    dataset_fingerprint: str | None = None
    data_credit: str | None = None
    weights_sha256: str | None = None
    source_weights_sha256: str | None = None
    produced_by: dict[str, str] = Field(default_factory=dict)  # package -> version
    quantization: dict[str, Any] | None = None
    intended_use: str = DEFAULT_INTENDED_USE
    limitations: list[str] = Field(default_factory=list)
    stand_in: bool = False  # True for a model made on synthetic data, not fit for real radiographs
    classifier: ClassifierRef | None = None  # the image-level classifier served beside the detector
    operating_points: OperatingPoints | None = None  # two tiers; without them `operating_point` alone applies


def card_path_for(weights: Path) -> Path:
    """model_card.json in the weights' folder."""
    return Path(weights).parent / CARD_FILENAME


def markdown_path_for(weights: Path) -> Path:
    """MODEL_CARD.md in the weights' folder."""
    return Path(weights).parent / MARKDOWN_FILENAME


def read_model_card(path: Path) -> ModelCard:
    """Read a model_card.json; ModelError says what is wrong with it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"model card not found: {path}") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"model card {path} is not readable JSON: {exc}") from exc
    try:
        return ModelCard.model_validate(data)
    except ValidationError as exc:
        raise ModelError(f"model card {path} is invalid: {exc}") from exc


def write_model_card(card: ModelCard, path: Path) -> Path:
    """Write the card as indented JSON (atomically: a temp file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
