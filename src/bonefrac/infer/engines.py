"""The runtimes that run an ONNX model for the engines: onnxruntime (the default) and OpenVINO.

    runner = open_runner(Path("model.onnx"), threads=2, engine="openvino", make_hint="...")
    head = runner.run(tensor)              # the first output for a (N, 3, S, S) float32 tensor

All read the same .onnx file; OpenVINO converts it in memory when it is loaded (nothing is cached on disk).
`openvino` computes in float32, so it gives onnxruntime's numbers to rounding; `openvino-bf16` computes in
bfloat16 where the CPU does so natively (AMX or AVX-512 BF16: about twice as fast) and in float32 elsewhere,
so its scores move by about 1e-2 (its accuracy on FracAtlas is measured in bench/RESULTS.md). A runner is safe
to share between threads.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bonefrac.errors import ConfigError, ModelError
from bonefrac.infer.session import check_model_file, open_session

ENGINES: tuple[str, ...] = ("onnxruntime", "openvino", "openvino-bf16")
OPENVINO_PRECISION = {"openvino": "f32", "openvino-bf16": "bf16"}  # OpenVINO's INFERENCE_PRECISION_HINT
DEFAULT_ENGINE = "onnxruntime"
ENGINE_HELP = (
    "What runs the models: onnxruntime, openvino (float32, onnxruntime's numbers) or openvino-bf16 "
    "(bfloat16 where the CPU has it, about twice as fast there); both OpenVINO ones need the openvino extra."
)


def check_engine(engine: str) -> str:
    """`engine` when it is one the product runs; ConfigError listing the accepted names otherwise."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; accepted: {', '.join(ENGINES)}")
    return engine


class ModelRunner(Protocol):
    """One loaded ONNX model with a single input, as the detector and the classifier use it."""

    engine: str
    input_name: str
    input_shape: list[Any]  # ints for fixed dimensions, names or None for free ones
    output_shapes: list[list[Any]]

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """The model's first output for one input tensor."""
        ...

    def metadata(self) -> dict[str, str]:
        """The ONNX file's metadata_props (what ultralytics' exporter embeds)."""
        ...

    def providers(self) -> list[str]:
        """Where it runs, for GET /v1/model."""
        ...


class OnnxRuntimeRunner:
    """An onnxruntime InferenceSession (CPU provider unless `providers` names others)."""

    engine = "onnxruntime"

    def __init__(self, model_path: Path, threads: int | None, providers: list[str] | None) -> None:
        self.session = open_session(model_path, threads, providers, make_hint="")
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1:
            raise ModelError(f"{model_path} has {len(inputs)} inputs; the engines take models with one")
        self.input_name: str = inputs[0].name
        self.input_shape: list[Any] = list(inputs[0].shape)
        self.output_shapes: list[list[Any]] = [list(o.shape) for o in outputs]
        self._output_name = outputs[0].name

    def run(self, tensor: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run([self._output_name], {self.input_name: tensor})[0])

    def metadata(self) -> dict[str, str]:
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def providers(self) -> list[str]:
        return list(self.session.get_providers())


class OpenVinoRunner:
    """An OpenVINO model compiled for the CPU in float32 (`openvino`) or bfloat16 where the CPU has it
    (`openvino-bf16`)."""

    def __init__(
        self, model_path: Path, threads: int | None, engine: str = "openvino", concurrency: int = 1
    ) -> None:
        self.engine = engine
        try:
            import openvino as ov
        except ImportError as exc:
            raise ConfigError(
                "the openvino engine needs the openvino package; "
                "install it with pip install 'bonefrac[openvino]'"
            ) from exc
        core = ov.Core()
        try:
            self._model = core.read_model(str(model_path))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own for unreadable files
            raise ModelError(f"OpenVINO cannot read {model_path}: {exc}") from exc
        if len(self._model.inputs) != 1:
            raise ModelError(
                f"{model_path} has {len(self._model.inputs)} inputs; the engines take models with one"
            )
        # One CPU stream per caller that may run at once: requests on one stream wait for each other.
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": OPENVINO_PRECISION[engine],
            "PERFORMANCE_HINT": "LATENCY",
            "NUM_STREAMS": int(concurrency),
        }
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = int(threads) * int(concurrency)
        try:
            self._compiled = core.compile_model(self._model, "CPU", config)
        except Exception as exc:
            raise ModelError(f"OpenVINO cannot compile {model_path} for the CPU: {exc}") from exc
        first = self._model.inputs[0]
        self.input_name = first.get_any_name()
        self.input_shape = _shape(first.get_partial_shape())
        self.output_shapes = [_shape(o.get_partial_shape()) for o in self._model.outputs]
        self._local = threading.local()

    def _request(self) -> Any:
        """One infer request per thread: a request runs one inference at a time."""
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self._compiled.create_infer_request()
        return request

    def run(self, tensor: np.ndarray) -> np.ndarray:
        request = self._request()
        request.infer({0: np.ascontiguousarray(tensor, dtype=np.float32)})
        return np.array(request.get_output_tensor(0).data, copy=True)

    def metadata(self) -> dict[str, str]:
        if not self._model.has_rt_info(["framework"]):
            return {}
        framework = self._model.get_rt_info()["framework"]
        return {str(key): str(value.astype(str)) for key, value in dict(framework).items()}

    def providers(self) -> list[str]:
        precision = self._compiled.get_property("INFERENCE_PRECISION_HINT")
        return [f"OpenVINO CPU ({precision.to_string()})"]


def _shape(partial: Any) -> list[Any]:
    """An OpenVINO partial shape as the engines expect: ints for static dimensions, None for dynamic ones."""
    return [d.get_length() if d.is_static else None for d in partial]


def open_runner(
    model_path: Path,
    threads: int | None,
    providers: list[str] | None = None,
    *,
    engine: str = DEFAULT_ENGINE,
    make_hint: str,
    concurrency: int = 1,
) -> ModelRunner:
    """The model at `model_path` loaded by `engine`; ModelError says what is wrong with the file.
    `concurrency`: how many threads may run it at once (OpenVINO gives each its own stream of `threads`)."""
    check_engine(engine)
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    path = check_model_file(model_path, threads, make_hint)
    if engine in OPENVINO_PRECISION:
        if providers:
            raise ConfigError(f"onnxruntime providers {providers} do not apply to the {engine} engine")
        return OpenVinoRunner(path, threads, engine, concurrency)
    return OnnxRuntimeRunner(path, threads, providers)
