"""`bonefrac classify export`: a classifier checkpoint -> classifier.onnx + classifier_card.json, checked.

The graph holds normalisation, the network and the sigmoid: it takes the detector's (N, 3, S, S) input in
[0, 1] and returns (N, 1) probabilities. The serving engine (bonefrac.infer.classifier) must give the same
probabilities as the torch checkpoint on real images, through its own torch-free preprocessing, or the export
fails with ExportError and nothing is left under the final names.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bonefrac import __version__
from bonefrac.card.classifier import (
    CLASSIFIER_CARD_FILENAME,
    CLASSIFIER_FILENAME,
    ClassifierCard,
    write_classifier_card,
)
from bonefrac.errors import ExportError
from bonefrac.infer.classifier import FractureClassifier
from bonefrac.records import Radiograph

logger = logging.getLogger(__name__)

PARITY_TOLERANCE = 1e-4  # largest |probability difference| between torch and onnxruntime
FRACATLAS_CREDIT = (
    "FracAtlas (Abedeen et al., 2023, Scientific Data 10:521, doi:10.1038/s41597-023-02432-4), CC BY 4.0"
)
_VERSIONED = ("torch", "timm", "onnx", "onnxruntime")


@dataclass(frozen=True)
class ClassifierParity:
    """How the ONNX engine agreed with the torch checkpoint."""

    images: int
    max_abs_difference: float
    tolerance: float

    def summary(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "max_abs_difference": self.max_abs_difference,
            "tolerance": self.tolerance,
        }


@dataclass(frozen=True)
class ClassifierExport:
    onnx_path: Path
    card_path: Path
    card: ClassifierCard
    parity: ClassifierParity


def _versions() -> dict[str, str]:
    versions = {"bonefrac": __version__}
    for package in _VERSIONED:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _run_facts(weights: Path) -> dict[str, Any]:
    """Metrics, data and start recorded by the run that wrote `weights` (runs/<exp>/<name>/weights)."""
    run_dir = weights.parent.parent
    facts: dict[str, Any] = {}
    for name in ("metrics.json", "environment.json", "dataset.json"):
        path = run_dir / name
        if path.is_file():
            try:
                facts[name] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                logger.warning("ignoring unreadable %s: %s", path, exc)
    return facts


def write_onnx(model: Any, imgsz: int, path: Path) -> None:
    """The probability graph with a dynamic batch axis (opset 17)."""
    import torch

    from bonefrac.classify.network import FractureProbability

    wrapper = FractureProbability(model).eval()
    example = torch.rand(1, 3, imgsz, imgsz)
    torch.onnx.export(
        wrapper,
        (example,),
        str(path),
        input_names=["images"],
        output_names=["probability"],
        dynamic_axes={"images": {0: "batch"}, "probability": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def check_parity(model: Any, staged: Path, samples: list[Radiograph]) -> ClassifierParity:
    """The engine's probabilities (OpenCV and numpy letterbox) against the torch model's, same images."""
    import torch

    from bonefrac.infer.preprocess import letterbox, to_input_tensor

    if not samples:
        raise ExportError("the parity check needs at least one image")
    worst = 0.0
    for use_cv2 in (True, False):
        engine = FractureClassifier(staged, use_cv2=use_cv2)
        served = np.asarray(engine.probabilities(samples))
        tensor = to_input_tensor([letterbox(r.pixels, engine.input_size)[0] for r in samples])
        with torch.inference_mode():
            reference = torch.sigmoid(model(torch.from_numpy(tensor))).double().numpy()
        worst = max(worst, float(np.max(np.abs(served - reference))))
    return ClassifierParity(images=len(samples), max_abs_difference=worst, tolerance=PARITY_TOLERANCE)


def export_classifier(
    weights: Path, out_dir: Path, parity_samples: list[tuple[str, Radiograph]]
) -> ClassifierExport:
    """Write out_dir/classifier.onnx and its card; refuse (nothing written) when parity fails."""
    from bonefrac.classify.trainer import load_classifier_checkpoint
    from bonefrac.hashing import file_sha256

    weights = Path(weights)
    model, meta = load_classifier_checkpoint(weights)
    imgsz = int(meta["imgsz"])
    facts = _run_facts(weights)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".export-") as tmp:
        staged = Path(tmp) / CLASSIFIER_FILENAME
        write_onnx(model, imgsz, staged)
        run_name = weights.parent.parent.name if weights.parent.name == "weights" else weights.stem
        source_sha = file_sha256(weights)
        metrics = facts.get("metrics.json", {})
        data_yaml = str(facts.get("dataset.json", {}).get("source", {}).get("yaml", ""))
        card = ClassifierCard(
            name=run_name,
            version=f"{run_name}-{source_sha[:8]}",
            input_size=imgsz,
            weights_sha256=file_sha256(staged),
            source_weights_sha256=source_sha,
            pretrained=facts.get("environment.json", {}).get("start", {}),
            data_credit=FRACATLAS_CREDIT if "fracatlas" in data_yaml.lower() else None,
            dataset_fingerprint=metrics.get("dataset_fingerprint"),
            metrics={
                k: metrics[k] for k in ("best_epoch", "epochs_completed", "val", "test") if k in metrics
            },
            produced_by=_versions(),
        )
        write_classifier_card(card, Path(tmp) / CLASSIFIER_CARD_FILENAME)
        parity = check_parity(model, staged, [image for _, image in parity_samples])
        if parity.max_abs_difference > parity.tolerance:
            raise ExportError(
                f"the ONNX classifier disagrees with {weights}: largest probability difference "
                f"{parity.max_abs_difference:.2e} on {parity.images} images "
                f"(tolerance {parity.tolerance:.0e})"
            )
        card = card.model_copy(update={"metrics": {**card.metrics, "export_parity": parity.summary()}})
        write_classifier_card(card, Path(tmp) / CLASSIFIER_CARD_FILENAME)
        onnx_path, card_path = out_dir / CLASSIFIER_FILENAME, out_dir / CLASSIFIER_CARD_FILENAME
        staged.replace(onnx_path)
        (Path(tmp) / CLASSIFIER_CARD_FILENAME).replace(card_path)
    logger.info("wrote %s (parity %.1e on %d images)", onnx_path, parity.max_abs_difference, parity.images)
    return ClassifierExport(onnx_path=onnx_path, card_path=card_path, card=card, parity=parity)
