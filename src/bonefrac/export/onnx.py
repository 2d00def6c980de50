"""`bonefrac export`: a YOLO11 .pt -> model.onnx (+ model.int8.onnx) and model_card.json, parity-checked.

    result = export_onnx(Path("runs/exp/best/weights/best.pt"), Path("artifacts/model"), imgsz=640)

Ultralytics' exporter writes the graph (no NMS inside; onnxslim when it is installed); the engine
(bonefrac.infer.Predictor) then has to find the same boxes as ultralytics' `.pt` predictor on a set of images,
or the export fails with ExportError and nothing is left half-written under the final names.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonefrac import __version__
from bonefrac.card.record import (
    CARD_FILENAME,
    INT8_FILENAME,
    ModelCard,
    card_path_for,
    read_model_card,
    write_model_card,
)
from bonefrac.errors import ExportError, ModelError
from bonefrac.export.parity import PARITY_CONF, ParityReport, check_parity
from bonefrac.export.samples import DEFAULT_COUNT, calibration_samples, load_samples
from bonefrac.hashing import file_sha256

logger = logging.getLogger(__name__)

MODEL_FILENAME = "model.onnx"
FRACATLAS_CREDIT = (
    "FracAtlas (Abedeen et al., 2023, Scientific Data 10:521, doi:10.1038/s41597-023-02432-4), CC BY 4.0"
)
_VERSIONED = ("bonefrac", "ultralytics", "torch", "onnx", "onnxruntime", "onnxslim")


@dataclass(frozen=True)
class ExportResult:
    """What export wrote and how the parity check went."""

    onnx_path: Path
    card_path: Path
    card: ModelCard
    parity: ParityReport
    int8_path: Path | None = None


def _versions() -> dict[str, str]:
    versions = {"bonefrac": __version__}
    for package in _VERSIONED[1:]:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _onnxslim_available() -> bool:
    try:
        import onnxslim  # noqa: F401
    except ImportError:
        return False
    return True


def _load_yolo(weights: Path) -> Any:
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights))
    except Exception as exc:  # ultralytics raises many types for unreadable checkpoints
        raise ModelError(f"ultralytics cannot load {weights}: {exc}") from exc
    if model.task != "detect":
        raise ModelError(f"{weights} is a {model.task!r} model; export supports detection models only")
    return model


def _training_facts(model: Any, weights: Path) -> dict[str, Any]:
    """Data set fingerprint, credit and metrics the training run left behind, where they can be found."""
    facts: dict[str, Any] = {}
    train_args = (getattr(model, "ckpt", None) or {}).get("train_args") or {}
    data = train_args.get("data")
    if data and Path(data).is_file():
        try:
            from bonefrac.data.yolo_format import load_dataset

            facts["dataset_fingerprint"] = load_dataset(Path(data)).fingerprint
        except Exception as exc:  # the training data may have moved or changed shape; the card then says so
            logger.warning("could not fingerprint the training data %s: %s", data, exc)
    if data and "fracatlas" in str(data).lower():
        facts["data_credit"] = FRACATLAS_CREDIT
    if data and "synth" in str(data).lower():
        facts["stand_in"] = True
    metrics_file = weights.parent.parent / "metrics.json"  # runs/<exp>/<name>/weights/best.pt
    if metrics_file.is_file():
        try:
            metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
            if isinstance(metrics, dict):
                facts["metrics"] = metrics
        except (OSError, json.JSONDecodeError) as exc:
            logger.warning("ignoring unreadable %s: %s", metrics_file, exc)
    return facts


def build_card(
    model: Any,
    weights: Path,
    onnx_path: Path,
    imgsz: int,
    parity: ParityReport,
    source_sha: str,
) -> ModelCard:
    """The card for the ONNX model: an existing card beside the .pt keeps its operating point and metrics."""
    existing = read_model_card(card_path_for(weights)) if card_path_for(weights).is_file() else None
    names = tuple(str(model.names[k]) for k in sorted(model.names))
    stride = int(max(getattr(model.model, "stride", [32]))) if hasattr(model, "model") else 32
    facts = _training_facts(model, weights)
    onnx_sha = file_sha256(onnx_path)
    base: dict[str, Any] = existing.model_dump() if existing else {}
    metrics = {**facts.get("metrics", {}), **base.get("metrics", {}), "export_parity": parity.summary()}
    run_name = weights.parent.parent.name if weights.parent.name == "weights" else weights.stem
    card = {
        **base,
        "name": base.get("name") or run_name,
        "version": base.get("version") or f"{run_name}-{source_sha[:8]}",
        "class_names": list(names),
        "input_size": imgsz,
        "stride": stride,
        "task": "detect",
        "metrics": metrics,
        "dataset_fingerprint": base.get("dataset_fingerprint") or facts.get("dataset_fingerprint"),
        "data_credit": base.get("data_credit") or facts.get("data_credit"),
        "weights_sha256": onnx_sha,
        "source_weights_sha256": source_sha,
        "produced_by": _versions(),
        "quantization": None,
        "stand_in": base.get("stand_in", False) or facts.get("stand_in", False),
    }
    if existing and existing.class_names != list(names):
        raise ExportError(
            f"the model card beside {weights} names classes {existing.class_names}, the weights {list(names)}"
        )
    return ModelCard.model_validate(card)


def export_onnx(
    weights: Path,
    out_dir: Path,
    imgsz: int = 640,
    int8: bool = False,
    parity_images: Path | None = None,
    *,
    parity_split: str = "val",
    parity_count: int = DEFAULT_COUNT,
    simplify: bool | None = None,
) -> ExportResult:
    """Export, check parity, write the card; int8 also quantizes and measures. ExportError on disagreement."""
    weights = Path(weights)
    out_dir = Path(out_dir)
    if not weights.is_file():
        raise ModelError(f"weights not found: {weights} (expected a YOLO .pt file, e.g. runs/.../best.pt)")
    if weights.suffix != ".pt":
        raise ModelError(f"{weights} is not a .pt checkpoint; export reads ultralytics .pt weights")
    if imgsz < 32 or imgsz % 32:
        raise ExportError(f"--imgsz must be a multiple of 32 and at least 32, got {imgsz}")
    model = _load_yolo(weights)
    samples = load_samples(parity_images, split=parity_split, count=parity_count)
    use_slim = _onnxslim_available() if simplify is None else simplify
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bonefrac-export-") as tmp:
        # export from a copy so ultralytics writes nothing beside the user's weights
        staged_pt = Path(tmp) / weights.name
        shutil.copyfile(weights, staged_pt)
        try:
            exported = Path(
                _load_yolo(staged_pt).export(
                    format="onnx", imgsz=imgsz, simplify=use_slim, dynamic=False, device="cpu"
                )
            )
        except Exception as exc:  # the exporter raises many types; say which step failed
            raise ExportError(f"ultralytics could not export {weights} to ONNX: {exc}") from exc
        staged_onnx = Path(tmp) / MODEL_FILENAME
        shutil.move(exported, staged_onnx)
        parity = check_parity(staged_onnx, weights, samples, conf=PARITY_CONF)
        card = build_card(model, weights, staged_onnx, imgsz, parity, file_sha256(weights))
        int8_staged = None
        if int8:
            from bonefrac.export.quantize import measure_int8, quantize_mixed_int8

            calibration = [image for _, image in calibration_samples(parity_images, samples)]
            probes = [image for _, image in samples]
            mixed = quantize_mixed_int8(staged_onnx, Path(tmp) / INT8_FILENAME, calibration, probes, imgsz)
            int8_staged = mixed.path
            write_model_card(card, Path(tmp) / CARD_FILENAME)  # so the int8 Predictor finds a card
            report = measure_int8(staged_onnx, int8_staged, samples, conf=card.operating_point.threshold)
            quantization = {**report, **mixed.summary(), "sha256": file_sha256(int8_staged)}
            card = card.model_copy(update={"quantization": quantization})
        onnx_path = Path(shutil.move(staged_onnx, out_dir / MODEL_FILENAME))
        int8_path = Path(shutil.move(int8_staged, out_dir / INT8_FILENAME)) if int8_staged else None
    if not int8 and (out_dir / INT8_FILENAME).exists():
        (out_dir / INT8_FILENAME).unlink()  # a stale int8 model would not match this card
    card_path = write_model_card(card, out_dir / CARD_FILENAME)
    logger.info("exported %s (parity %s)", onnx_path, parity.summary())
    return ExportResult(onnx_path, card_path, card, parity, int8_path)
