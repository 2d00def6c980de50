"""How the service gets its analyser: the detector at BONEFRAC_MODEL_PATH and the classifier its card names
(`bonefrac.infer.analysis.FractureAnalyser`), or engines a test injects."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from bonefrac.errors import ModelError
from bonefrac.infer.analysis import Classifier, Detector, FractureAnalyser
from bonefrac.infer.engines import DEFAULT_ENGINE
from bonefrac.records import Radiograph

logger = logging.getLogger(__name__)


def load_analyser(
    model_path: Path,
    threads: int,
    detector: Detector | None = None,
    classifier: Classifier | None = None,
    engine: str = DEFAULT_ENGINE,
    concurrency: int = 1,
) -> FractureAnalyser:
    """The injected engines when a detector is given, else the model at `model_path` with the classifier its
    card names (checked against the card's sha256), run by `engine`; ModelError when a file is missing or
    unusable. `concurrency`: the inferences the service runs at once."""
    if detector is not None:
        return FractureAnalyser(detector, classifier)
    if not Path(model_path).is_file():
        raise ModelError(f"model file not found: {model_path} (set BONEFRAC_MODEL_PATH or --model)")
    return FractureAnalyser.from_model(model_path, threads=threads, engine=engine, concurrency=concurrency)


def warm_up(analyser: FractureAnalyser) -> None:
    """One analysis (detector and classifier) of a blank image, so the first request is not slow."""
    size = int(analyser.detector.input_size)
    analyser.analyse(Radiograph(np.full((size, size, 3), 114, np.uint8), source_format="png"))
    logger.info(
        "warm-up inference done",
        extra={
            "model_sha256": analyser.detector.sha256,
            "classifier_sha256": analyser.classifier.sha256 if analyser.classifier else None,
        },
    )
