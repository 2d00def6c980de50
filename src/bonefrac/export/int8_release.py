"""`bonefrac quantize`: an int8 copy of an exported detector that keeps its accuracy, or why it does not.

    release = release_int8(Path("deploy/model/model.onnx"), Path("fracatlas/data.yaml"))
    release.kept, release.decision, release.int8_path

1. Calibrate on radiographs of the training split; rank the modules by how far rounding each alone moves
   the highest score of probe images from the validation split, and keep the most sensitive ones (with the
   box decode) in float (`quantize_mixed_int8`).
2. Time both models and compare their boxes on the probes (`measure_int8`).
3. Evaluate fp32 and int8 on the evaluation split at the card's operating points (`bonefrac evaluate --rule
   card`); int8 keeps its accuracy when its box mAP50 and image AUROC are each within `max_drop` of fp32's.
4. Record it all in the card's `quantization` entry and `metrics.<split>_int8`, refresh the int8 parts of
   MODEL_CARD.md when there is one, and remove the int8 file when it does not keep its accuracy.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonefrac.card.record import (
    CARD_FILENAME,
    INT8_FILENAME,
    MARKDOWN_FILENAME,
    read_model_card,
    write_model_card,
)
from bonefrac.errors import ExportError
from bonefrac.evaluate.record import EvalReport
from bonefrac.export.quantize import MixedInt8, measure_int8, quantize_mixed_int8
from bonefrac.export.samples import load_samples
from bonefrac.hashing import file_sha256

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Int8Release:
    """What `release_int8` decided, with the evaluations behind it."""

    int8_path: Path | None  # None when the copy lost accuracy and was removed
    kept: bool
    decision: str
    mixed: MixedInt8
    fp32_eval: EvalReport
    int8_eval: EvalReport
    quantization: dict[str, Any]


def _evaluate(model: Path, data: Path, split: str, out: Path, bootstrap: int, engine: str) -> EvalReport:
    from bonefrac.config import build_config
    from bonefrac.evaluate.runner import EvaluateOptions, run_evaluation

    values = dict(
        weights=model, data=data, split=split, out=out, rule="card", bootstrap=bootstrap, engine=engine
    )
    return run_evaluation(build_config(EvaluateOptions, values, "int8 evaluation")).report


def release_int8(
    model_path: Path,
    data: Path,
    *,
    calibration_count: int = 300,
    probe_count: int = 40,
    split: str = "test",
    max_drop: float = 0.01,
    bootstrap: int = 1000,
    engine: str = "onnxruntime",
    eval_dir: Path | None = None,  # keep both evaluations' outputs here (default: a temporary folder)
) -> Int8Release:
    """Quantize `model_path` (an exported detector with its card) into model.int8.onnx beside it, evaluate
    both on `split` of `data` and keep the int8 file only when it keeps its accuracy (module docstring)."""
    from bonefrac.card.markdown import refresh_int8_sections
    from bonefrac.card.publish import card_test_summary, int8_keeps_accuracy

    model_path = Path(model_path)
    card_path = model_path.parent / CARD_FILENAME
    if not card_path.is_file():
        raise ExportError(
            f"{model_path} has no {CARD_FILENAME} beside it; quantize a model written by `bonefrac export`"
        )
    card = read_model_card(card_path)
    calibration = [image for _, image in load_samples(data, split="train", count=calibration_count)]
    probes = load_samples(data, split="val", count=probe_count)
    int8_path = model_path.parent / INT8_FILENAME
    mixed = quantize_mixed_int8(model_path, int8_path, calibration, [p for _, p in probes], card.input_size)
    measured = measure_int8(model_path, int8_path, probes, conf=card.operating_point.threshold)
    with tempfile.TemporaryDirectory(prefix="bonefrac-int8-eval-") as tmp:
        evaluations = Path(eval_dir) if eval_dir is not None else Path(tmp)
        fp32_eval = _evaluate(model_path, data, split, evaluations / "fp32", bootstrap, engine)
        int8_eval = _evaluate(int8_path, data, split, evaluations / "int8", bootstrap, engine)
    kept, decision = int8_keeps_accuracy(fp32_eval, int8_eval, max_drop)
    quantization = {
        **measured,
        **mixed.summary(),
        "calibration": f"{len(calibration)} images of the train split of {Path(data).name}",
        "sha256": file_sha256(int8_path),
        "shipped": kept,
        "decision": decision,
    }
    metrics = {**card.metrics, f"{split}_int8": card_test_summary(int8_eval).model_dump(mode="json")}
    card = card.model_copy(update={"quantization": quantization, "metrics": metrics})
    write_model_card(card, card_path)
    markdown = model_path.parent / MARKDOWN_FILENAME
    if markdown.is_file() and split == "test":
        markdown.write_text(
            refresh_int8_sections(markdown.read_text(encoding="utf-8"), card, fp32_eval, int8_eval),
            encoding="utf-8",
        )
    if not kept:
        int8_path.unlink()
        logger.warning("int8 removed: %s", decision)
    return Int8Release(int8_path if kept else None, kept, decision, mixed, fp32_eval, int8_eval, quantization)
