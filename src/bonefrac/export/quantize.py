"""int8 quantization of an exported detector with onnxruntime: what it costs in accuracy, gains in speed.

Static QDQ quantization (per-channel weights, activations calibrated on letterboxed images) is what makes a
convolutional network faster on CPU; the detection head's last layers are kept in float so box coordinates
and scores do not collapse. `measure_int8` times both models on the same inputs and threads and compares
their boxes with the parity matcher (box agreement at IoU 0.5, mean confidence change).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bonefrac.errors import ExportError
from bonefrac.export.parity import compare_detections, judge
from bonefrac.infer.preprocess import letterbox, to_input_tensor
from bonefrac.records import Radiograph

logger = logging.getLogger(__name__)

INT8_AGREEMENT_IOU = 0.5
LOW_CONF = 0.01


class _CalibrationReader:
    """Feeds letterboxed calibration images to onnxruntime's calibrator, one at a time."""

    def __init__(self, input_name: str, images: Sequence[Radiograph], size: int) -> None:
        self._feeds = iter(
            [{input_name: to_input_tensor([letterbox(img.pixels, size)[0]])} for img in images]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def _head_nodes(model_path: Path) -> list[str]:
    """Nodes kept in float: the detect head's decode (DFL, anchors, sigmoid) and its last 1x1 convolutions."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    last = graph.node[-1].name
    if "/" not in last:
        return [node.name for node in graph.node[-30:]]
    head = last.rsplit("/", 1)[0] + "/"  # ultralytics names nodes by module path: "/model.23/..."
    keep_float = []
    for node in graph.node:
        if not node.name.startswith(head):
            continue
        in_branch = "/cv2" in node.name or "/cv3" in node.name
        # the branch's last 1x1 conv sits directly in it: "/model.23/cv2.0/cv2.0.2/Conv"
        final_conv = in_branch and node.op_type == "Conv" and len(node.name[len(head) :].split("/")) == 3
        if not in_branch or final_conv:
            keep_float.append(node.name)
    return keep_float


def quantize_int8(model_path: Path, out_path: Path, calibration: Sequence[Radiograph], size: int) -> Path:
    """Write a static-QDQ int8 copy of `model_path` calibrated on `calibration` images."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ExportError("int8 quantization needs calibration images; none were given")
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        try:
            quant_pre_process(str(model_path), str(prepared), skip_symbolic_shape=True)
        except Exception as exc:  # pre-processing is an optimisation; quantize the raw graph without it
            logger.warning("quantization pre-processing failed (%s); quantizing the graph as exported", exc)
            prepared = model_path
        try:
            quantize_static(
                str(prepared),
                str(out_path),
                _CalibrationReader(input_name, calibration, size),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                nodes_to_exclude=_head_nodes(prepared),
            )
        except Exception as exc:
            raise ExportError(f"int8 quantization of {model_path} failed: {exc}") from exc
    return out_path


def _time_sessions(predictors: Sequence[Any], tensor: np.ndarray, repeats: int) -> list[float]:
    """Median seconds of session.run per predictor, run in turn (interleaved) after one warm-up each."""
    for predictor in predictors:
        predictor.run_raw(tensor)
    times: list[list[float]] = [[] for _ in predictors]
    for _ in range(repeats):
        for k, predictor in enumerate(predictors):
            start = time.perf_counter()
            predictor.run_raw(tensor)
            times[k].append(time.perf_counter() - start)
    return [float(np.median(t)) for t in times]


def _agreement(
    fp32: Any, int8: Any, images: Sequence[tuple[str, Radiograph]], conf: float
) -> dict[str, float | int]:
    comparisons = [
        compare_detections(
            name,
            fp32.predict(img, conf=conf),
            int8.predict(img, conf=conf),
            threshold=conf,
            min_iou=INT8_AGREEMENT_IOU,
            conf_tol=1.0,
        )
        for name, img in images
    ]
    report = judge(comparisons, min_iou=INT8_AGREEMENT_IOU, conf_tol=1.0)
    return {
        "conf": conf,
        "fp32_boxes": report.reference_boxes,
        "int8_boxes": sum(c.candidate_boxes for c in comparisons),
        "box_agreement": round(report.box_agreement, 4),
        "mean_conf_delta": round(report.mean_conf_delta, 5),
    }


def measure_int8(
    fp32_path: Path,
    int8_path: Path,
    images: Sequence[tuple[str, Radiograph]],
    *,
    conf: float,
    threads: int = 2,
    repeats: int = 15,
) -> dict[str, Any]:
    """Speed gain (fp32 / int8 session time) and box agreement of int8 against fp32 on the same images.

    Agreement is measured at the operating threshold `conf` and at a low threshold (0.01), so an
    undertrained model that finds nothing at its operating point still gets a comparison.
    """
    from bonefrac.infer.predictor import Predictor

    fp32 = Predictor(fp32_path, threads=threads)
    int8 = Predictor(int8_path, threads=threads)
    agreement = [_agreement(fp32, int8, images, c) for c in sorted({conf, LOW_CONF}, reverse=True)]
    tensor = to_input_tensor([letterbox(images[0][1].pixels, fp32.input_size)[0]])
    fp32_s, int8_s = _time_sessions([fp32, int8], tensor, repeats)
    return {
        "method": "onnxruntime static QDQ, per-channel int8 weights, uint8 activations (MinMax calibration)",
        "file": int8_path.name,
        "calibration_images": len(images),
        "threads": threads,
        "fp32_session_ms": round(fp32_s * 1000, 3),
        "int8_session_ms": round(int8_s * 1000, 3),
        "speedup": round(fp32_s / int8_s, 3) if int8_s > 0 else None,
        "agreement_iou": INT8_AGREEMENT_IOU,
        "agreement": agreement,
        "note": "agreement measured against the fp32 model on the parity images, not against ground truth",
    }
