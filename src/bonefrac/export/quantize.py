"""int8 quantization of an exported detector with onnxruntime: what it costs in accuracy, gains in speed.

Static QDQ quantization (per-channel weights, activations calibrated on images prepared as the engine prepares
a request) is what makes a convolutional network faster on CPU; the detection head's box decode, class
sigmoid and last learned convolutions are kept in float (found by walking back from the outputs) so box
coordinates and scores do not collapse. Calibrate on radiographs of the training distribution.
`measure_int8` times both models on the same inputs and threads and compares their boxes with the parity
matcher (box agreement at IoU 0.5, mean confidence change).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bonefrac.errors import ExportError
from bonefrac.export.parity import compare_detections, judge
from bonefrac.infer.preprocess import is_grey_source, letterbox, preprocess, to_input_tensor
from bonefrac.records import Radiograph

logger = logging.getLogger(__name__)

INT8_AGREEMENT_IOU = 0.5
LOW_CONF = 0.01


class _CalibrationReader:
    """Feeds calibration images to onnxruntime's calibrator one at a time, prepared as the engine prepares a
    request (`bonefrac.infer.preprocess.preprocess`: letterbox, grey sources resized as one channel)."""

    def __init__(self, input_name: str, images: Sequence[Radiograph], size: int) -> None:
        self._input_name = input_name
        self._images = iter(images)
        self._size = size

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self._images, None)
        if image is None:
            return None
        tensor, _ = preprocess(image.pixels, self._size, grey=is_grey_source(image.metadata))
        return {self._input_name: tensor}


# Operations of the box decode and class scores that follow the detect head's learned convolutions.
_DECODE_OPS = {
    "Concat",
    "Mul",
    "Add",
    "Sub",
    "Div",
    "Sigmoid",
    "Softmax",
    "Reshape",
    "Transpose",
    "Split",
    "Slice",
}


def float_head_nodes(model_path: Path) -> list[str]:
    """The nodes kept in float: everything from the graph's outputs back to the detect head's last learned
    convolutions, those convolutions included.

    Walking back from each output through its producers covers the final Concat of boxes and scores, the
    class Sigmoid, the box decode (distances to corners, the stride Mul) and the DFL (Reshape, Softmax and its
    fixed-weight Conv); the walk stops at a Conv whose input is not a Softmax (a learned 1x1 convolution of a
    head branch), which is kept in float too, so the numbers that become box corners and scores are never
    rounded to 8 bits."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    producer = {output: node for node in graph.node for output in node.output}
    keep: dict[str, None] = {}
    pending = [producer[o.name] for o in graph.output if o.name in producer]
    while pending:
        node = pending.pop()
        if node.name in keep:
            continue
        keep[node.name] = None
        data_input = producer.get(node.input[0]) if node.input else None
        if node.op_type == "Conv" and (data_input is None or data_input.op_type != "Softmax"):
            continue  # a learned convolution of the head: kept, and the walk ends here
        if node.op_type != "Conv" and node.op_type not in _DECODE_OPS:
            continue
        pending.extend(producer[i] for i in node.input if i in producer)
    return list(keep)


CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


def detect_module_nodes(model_path: Path) -> list[str]:
    """Every node of the module that makes the output (ultralytics names nodes by module path: the output
    Concat "/model.24/Concat_3" belongs to "/model.24/"): the whole detect head, its branches included."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    producer = {output: node for node in graph.node for output in node.output}
    last = producer.get(graph.output[0].name)
    if last is None or last.name.count("/") < 2:
        raise ExportError(f"{model_path}: its output node has no module path; keep the decode in float only")
    prefix = last.name.rsplit("/", 1)[0] + "/"
    return [node.name for node in graph.node if node.name.startswith(prefix)]


def module_nodes(model_path: Path, modules: Sequence[str]) -> list[str]:
    """The nodes of the named ultralytics modules ("model.0" holds "/model.0/conv/Conv" ...); ExportError
    names a module the graph does not have."""
    import onnx

    names = [node.name for node in onnx.load(str(model_path), load_external_data=False).graph.node]
    found = []
    for module in modules:
        inside = [name for name in names if name.startswith(f"/{module}/")]
        if not inside:
            raise ExportError(f"{model_path.name} has no module {module!r} (expected names like 'model.0')")
        found += inside
    return found


SENSITIVE_SHARE = 0.25
SENSITIVITY_CALIBRATION = 32


@dataclass(frozen=True)
class ModuleSensitivity:
    """How much rounding one module to int8 moves the model's answers: the mean change of each probe image's
    highest class score, with only this module quantized (`module` "all": every module at once)."""

    module: str
    score_change: float


def _top_scores(model_path: Path, tensors: Sequence[np.ndarray]) -> np.ndarray:
    """Each probe's highest class score straight from the graph's first output (N, 4 + classes, anchors)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.array([float(session.run(None, {name: t})[0][0, 4:].max()) for t in tensors])


def module_sensitivity(
    model_path: Path, calibration: Sequence[Radiograph], probes: Sequence[Radiograph], size: int
) -> list[ModuleSensitivity]:
    """Quantize one module at a time (the others and the decode in float) and measure how far the probes'
    highest scores move from float32; first the whole model quantized ("all"), then the modules, most
    sensitive first. Calibrates on at most SENSITIVITY_CALIBRATION images: a ranking needs no more."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    names = [node.name for node in graph.node]
    modules = list(dict.fromkeys(n.split("/")[1] for n in names if n.count("/") >= 2))
    if not modules:
        raise ExportError(f"{model_path.name} has no module paths in its node names; name --float-modules")
    tensors = [preprocess(p.pixels, size, grey=is_grey_source(p.metadata))[0] for p in probes]
    reference = _top_scores(model_path, tensors)
    calibration = list(calibration)[:SENSITIVITY_CALIBRATION]
    decode = set(float_head_nodes(model_path))
    measured = []
    with tempfile.TemporaryDirectory(prefix="bonefrac-sensitivity-") as tmp:
        for module in ["all", *modules]:
            others = set() if module == "all" else {n for n in names if not n.startswith(f"/{module}/")}
            if module != "all" and decode | others >= set(names):
                continue  # nothing of this module is quantized (it is part of the decode)
            path = Path(tmp) / "probe.int8.onnx"
            _quantize(model_path, path, calibration, size, "minmax", sorted(decode | others))
            change = float(np.abs(_top_scores(path, tensors) - reference).mean())
            measured.append(ModuleSensitivity(module, change))
    whole, parts = measured[0], measured[1:]
    return [whole, *sorted(parts, key=lambda m: m.score_change, reverse=True)]


def sensitive_modules(
    sensitivities: Sequence[ModuleSensitivity], share: float = SENSITIVE_SHARE
) -> list[str]:
    """The modules that alone move the scores by at least `share` of what quantizing everything does: the
    ones to keep in float."""
    whole = next(m for m in sensitivities if m.module == "all")
    return [
        m.module
        for m in sensitivities
        if m.module != "all" and whole.score_change > 0 and m.score_change >= share * whole.score_change
    ]


def quantize_int8(
    model_path: Path,
    out_path: Path,
    calibration: Sequence[Radiograph],
    size: int,
    *,
    method: str = "minmax",
    whole_head: bool = False,
    float_modules: Sequence[str] = (),
) -> Path:
    """Write a static-QDQ int8 copy of `model_path` calibrated on `calibration` images; `method` sets how
    activation ranges are taken from them (minmax, percentile: the 99.999th, or entropy). The decode is
    always kept in float; `whole_head` keeps the whole detect head (its branches too) in float, and
    `float_modules` the named modules (the most sensitive ones, from `module_sensitivity`)."""
    if not calibration:
        raise ExportError("int8 quantization needs calibration images; none were given")
    if method not in CALIBRATION_METHODS:
        accepted = ", ".join(CALIBRATION_METHODS)
        raise ExportError(f"unknown calibration method {method!r}; accepted: {accepted}")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        try:
            quant_pre_process(str(model_path), str(prepared), skip_symbolic_shape=True)
        except Exception as exc:  # pre-processing is an optimisation; quantize the raw graph without it
            logger.warning("quantization pre-processing failed (%s); quantizing the graph as exported", exc)
            prepared = model_path
        excluded = (
            set(float_head_nodes(prepared))
            | set(detect_module_nodes(prepared) if whole_head else ())
            | set(module_nodes(prepared, float_modules))
        )
        _quantize(prepared, out_path, calibration, size, method, sorted(excluded))
    return out_path


def _quantize(
    model_path: Path,
    out_path: Path,
    calibration: Sequence[Radiograph],
    size: int,
    method: str,
    float_nodes: Sequence[str],
) -> None:
    """onnxruntime static QDQ: per-channel int8 weights, uint8 activations, `float_nodes` left in float."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    calibrate_method = {
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
        "entropy": CalibrationMethod.Entropy,
    }[method]
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    try:
        quantize_static(
            str(model_path),
            str(out_path),
            _CalibrationReader(input_name, calibration, size),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=calibrate_method,
            nodes_to_exclude=list(float_nodes),
        )
    except Exception as exc:
        raise ExportError(f"int8 quantization of {model_path} failed: {exc}") from exc


@dataclass(frozen=True)
class MixedInt8:
    """An int8 copy with its most sensitive modules in float, and the measurements that chose them."""

    path: Path
    float_modules: tuple[str, ...]
    sensitivities: tuple[ModuleSensitivity, ...]

    def summary(self) -> dict[str, Any]:
        """For the card's `quantization` entry."""
        return {
            "float_modules": list(self.float_modules),
            "sensitivity_share": SENSITIVE_SHARE,
            "score_change": {m.module: round(m.score_change, 6) for m in self.sensitivities},
        }


def quantize_mixed_int8(
    model_path: Path,
    out_path: Path,
    calibration: Sequence[Radiograph],
    probes: Sequence[Radiograph],
    size: int,
) -> MixedInt8:
    """int8 with the modules whose rounding alone moves the probes' scores most kept in float (with the
    decode): per-module sensitivity on `probes`, then static QDQ on all of `calibration`."""
    sensitivities = module_sensitivity(model_path, calibration, probes, size)
    keep = tuple(sensitive_modules(sensitivities))
    logger.info("int8: keeping %s in float", ", ".join(keep) or "no module")
    quantize_int8(model_path, out_path, calibration, size, float_modules=keep)
    return MixedInt8(out_path, keep, tuple(sensitivities))


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
