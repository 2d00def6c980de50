"""One onnxruntime session as the engines want it: checked path, CPU provider by default, bounded threads."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bonefrac.errors import ModelError

# onnxruntime's telemetry (a device id and an event store under ~/.cache, uploads where it can) stays off:
# the variable must be set before onnxruntime is first imported, which happens only in this package.
TELEMETRY_OFF = {"ORT_DISABLE_TELEMETRY": "1"}
for _name, _value in TELEMETRY_OFF.items():
    os.environ.setdefault(_name, _value)


def check_model_file(model_path: Path, threads: int | None, make_hint: str) -> Path:
    """`model_path` when it is an existing .onnx file and `threads` is None or >= 1; else ModelError
    (ValueError for threads). `make_hint` tells the user how to make the right file."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelError(f"model file not found: {model_path} (expected an .onnx file)")
    if model_path.suffix.lower() != ".onnx":
        raise ModelError(f"{model_path} is not an ONNX model; the engine reads .onnx files ({make_hint})")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1 or None (the runtime's default), got {threads}")
    return model_path


def open_session(
    model_path: Path, threads: int | None, providers: list[str] | None, *, make_hint: str
) -> Any:
    """An onnxruntime InferenceSession over `model_path`; ModelError says what is wrong with the file.

    `make_hint` tells the user how to make the right file when the path is not an .onnx model."""
    import onnxruntime as ort

    ort.disable_telemetry_events()
    model_path = check_model_file(model_path, threads, make_hint)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if threads is not None:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    available = ort.get_available_providers()
    chosen = list(providers) if providers else ["CPUExecutionProvider"]
    unknown = [p for p in chosen if p not in available]
    if unknown:
        raise ModelError(f"onnxruntime providers {unknown} are not available; available: {available}")
    try:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own exception types for broken files
        raise ModelError(f"onnxruntime cannot load {model_path}: {exc}") from exc
