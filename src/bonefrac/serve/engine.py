"""What the service needs from an inference engine, and how it gets the real one (infer.Predictor)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

from bonefrac.card.record import ModelCard
from bonefrac.errors import ModelError
from bonefrac.records import Detections, Radiograph

logger = logging.getLogger(__name__)


class InferenceEngine(Protocol):
    """The part of `bonefrac.infer.predictor.Predictor` the service uses (tests may inject their own)."""

    card: ModelCard
    sha256: str
    input_size: int

    def predict(self, image: Radiograph, conf: float | None = None, iou: float = 0.7) -> Detections: ...


def load_engine(model_path: Path, threads: int) -> InferenceEngine:
    """The onnxruntime Predictor for `model_path`; ModelError when the file is missing or unusable."""
    if not Path(model_path).is_file():
        raise ModelError(f"model file not found: {model_path} (set BONEFRAC_MODEL_PATH or --model)")
    from bonefrac.infer.predictor import Predictor

    return Predictor(model_path, threads=threads)


def warm_up(engine: InferenceEngine) -> None:
    """One inference on a blank image of the model's input size, so the first request is not slow."""
    size = int(engine.input_size)
    engine.predict(Radiograph(np.full((size, size, 3), 114, np.uint8), source_format="png"))
    logger.info("warm-up inference done", extra={"model_sha256": engine.sha256})
