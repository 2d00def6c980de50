"""The classifier's card: classifier_card.json beside classifier.onnx (what it is, where it came from, how
well it did). Written by `bonefrac classify export`; read by the engine and the model card. Pure data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bonefrac.errors import ModelError

CLASSIFIER_FILENAME = "classifier.onnx"
CLASSIFIER_CARD_FILENAME = "classifier_card.json"


class ClassifierCard(BaseModel):
    """Facts about one exported classifier file (written by `bonefrac classify export`)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    architecture: str = "efficientnet_lite0"
    task: str = "classify-fracture"
    input_size: int = Field(ge=32)
    weights_sha256: str | None = None
    source_weights_sha256: str | None = None
    pretrained: dict[str, str] = Field(default_factory=dict)  # the ImageNet start: path, sha256, credit
    data_credit: str | None = None
    dataset_fingerprint: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    produced_by: dict[str, str] = Field(default_factory=dict)


def classifier_card_path(model_path: Path) -> Path:
    return Path(model_path).parent / CLASSIFIER_CARD_FILENAME


def read_classifier_card(path: Path) -> ClassifierCard:
    """Read a classifier_card.json; ModelError says what is wrong with it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"classifier card not found: {path} (`bonefrac classify export` writes it)") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"classifier card {path} is not readable JSON: {exc}") from exc
    try:
        return ClassifierCard.model_validate(data)
    except ValidationError as exc:
        raise ModelError(f"classifier card {path} is invalid: {exc}") from exc


def write_classifier_card(card: ClassifierCard, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
