"""The inference engine: an ONNX detector run by onnxruntime or OpenVINO, giving typed `Detections`. Never
imports torch.

    p = Predictor("model.onnx", threads=2)                   # engine="openvino" for OpenVINO
    detections = p.predict(load_image("wrist.dcm"))          # boxes in original pixels, card threshold

One loaded model is shared; `predict` keeps no state between calls, so a Predictor is safe to use from
several threads at once.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bonefrac.card.record import CARD_FILENAME, ModelCard, read_model_card
from bonefrac.errors import ModelError
from bonefrac.hashing import file_sha256
from bonefrac.infer.engines import DEFAULT_ENGINE, open_runner
from bonefrac.infer.postprocess import MAX_DET, postprocess
from bonefrac.infer.preprocess import LetterboxParams, is_grey_source, letterbox, preprocess, to_input_tensor
from bonefrac.records import Detections, Radiograph

logger = logging.getLogger(__name__)


def _literal(value: str | None, key: str, path: Path) -> Any:
    if value is None:
        return None
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError) as exc:
        raise ModelError(f"ONNX metadata {key!r} of {path} is not a Python literal: {value[:80]!r}") from exc


def card_from_onnx_metadata(
    metadata: dict[str, str], model_path: Path, input_shape: Sequence[Any]
) -> ModelCard:
    """A minimal card from what ultralytics' exporter embeds (names, imgsz, stride, version)."""
    names = _literal(metadata.get("names"), "names", model_path)
    if not isinstance(names, dict) or not names:
        raise ModelError(
            f"{model_path} has no {CARD_FILENAME} beside it and no class names in its ONNX metadata; "
            "export it with `bonefrac export` (or ultralytics), which writes both"
        )
    class_names = [str(names[k]) for k in sorted(names)]
    imgsz = _literal(metadata.get("imgsz"), "imgsz", model_path)
    if isinstance(imgsz, (list, tuple)):
        if len(set(imgsz)) != 1:
            raise ModelError(f"{model_path} expects a non-square input {imgsz}; only square inputs work")
        input_size = int(imgsz[0])
    elif isinstance(imgsz, int):
        input_size = imgsz
    elif isinstance(input_shape[-1], int):
        input_size = int(input_shape[-1])
    else:
        raise ModelError(f"{model_path}: input size is neither in its metadata nor fixed in the graph")
    version = metadata.get("version", "unknown")
    return ModelCard(
        name=model_path.stem,
        version=str(version),
        class_names=class_names,
        input_size=input_size,
        stride=int(metadata.get("stride", 32)),
        task=metadata.get("task", "detect"),
        produced_by={"ultralytics": str(version)},
    )


class Predictor:
    """Fracture detector over an ONNX model exported from YOLO11 (ultralytics layout, no NMS inside)."""

    def __init__(
        self,
        model_path: Path | str,
        threads: int | None = None,
        providers: list[str] | None = None,
        *,
        use_cv2: bool = True,
        engine: str = DEFAULT_ENGINE,
        concurrency: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        self._runner = open_runner(
            self.model_path,
            threads,
            providers,
            engine=engine,
            concurrency=concurrency,
            make_hint="make one from a .pt with `bonefrac export --weights best.pt`",
        )
        self.engine = engine
        self.threads = threads
        self.use_cv2 = use_cv2
        shape = self._runner.input_shape
        self.sha256 = file_sha256(self.model_path)
        card_file = self.model_path.parent / CARD_FILENAME
        self.card: ModelCard = (
            read_model_card(card_file)
            if card_file.is_file()
            else card_from_onnx_metadata(self._runner.metadata(), self.model_path, shape)
        )
        self._check_card(shape, self._runner.output_shapes[0])
        self.input_size: int = self.card.input_size
        self.class_names: tuple[str, ...] = tuple(self.card.class_names)
        self._fixed_batch = shape[0] if isinstance(shape[0], int) else None
        logger.debug("loaded %s (input %s, classes %s)", self.model_path, shape, self.class_names)

    def _check_card(self, input_shape: Sequence[Any], output_shape: Sequence[Any]) -> None:
        card = self.card
        if card.task != "detect":
            raise ModelError(f"{self.model_path}: task {card.task!r} is not supported; only 'detect' is")
        if len(input_shape) != 4:
            raise ModelError(f"{self.model_path}: input must be (batch, 3, size, size), got {input_shape}")
        fixed = [d for d in input_shape[2:] if isinstance(d, int)]
        if fixed and any(d != card.input_size for d in fixed):
            raise ModelError(
                f"{self.model_path}: the model card says input size {card.input_size}, "
                f"the ONNX graph expects {list(input_shape[2:])}"
            )
        channels = output_shape[1] if len(output_shape) == 3 else None
        if isinstance(channels, int) and channels != 4 + len(card.class_names):
            raise ModelError(
                f"{self.model_path}: output has {channels - 4} class scores per box, "
                f"the model card names {len(card.class_names)} classes {card.class_names}"
            )

    @property
    def default_conf(self) -> float:
        """The card's operating threshold."""
        return float(self.card.operating_point.threshold)

    def _check_args(self, conf: float | None, iou: float) -> float:
        threshold = self.default_conf if conf is None else float(conf)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"conf must be in [0, 1], got {threshold}")
        if not 0.0 <= iou <= 1.0:
            raise ValueError(f"iou must be in [0, 1], got {iou}")
        return threshold

    def _to_detections(
        self, head: np.ndarray, params: LetterboxParams, conf: float, iou: float, max_det: int
    ) -> Detections:
        kept = postprocess(head, params, conf, iou, len(self.class_names), max_det)
        return Detections(kept.xyxy, kept.confidence, kept.class_id, self.class_names)

    def run_raw(self, tensor: np.ndarray) -> np.ndarray:
        """The bare model run on a prepared (N, 3, S, S) float32 tensor: (N, 4 + nc, anchors)."""
        return self._runner.run(tensor)

    def predict(
        self, image: Radiograph, conf: float | None = None, iou: float = 0.7, max_det: int = MAX_DET
    ) -> Detections:
        """Detections on one image, boxes in its own pixels; conf None uses the card's operating threshold."""
        threshold = self._check_args(conf, iou)
        grey = is_grey_source(image.metadata)
        tensor, params = preprocess(image.pixels, self.input_size, use_cv2=self.use_cv2, grey=grey)
        head = self.run_raw(tensor)
        return self._to_detections(head[0], params, threshold, iou, max_det)

    def predict_batch(
        self,
        images: Sequence[Radiograph],
        conf: float | None = None,
        iou: float = 0.7,
        max_det: int = MAX_DET,
    ) -> list[Detections]:
        """Detections for each image, in order; batched through the session when the model allows it."""
        threshold = self._check_args(conf, iou)
        if not images:
            return []
        chunk = self._fixed_batch or 16
        results: list[Detections] = []
        for start in range(0, len(images), chunk):
            part = images[start : start + chunk]
            placed = [
                letterbox(
                    img.pixels, self.input_size, use_cv2=self.use_cv2, grey=is_grey_source(img.metadata)
                )
                for img in part
            ]
            tensor = to_input_tensor([boxed for boxed, _ in placed])
            if self._fixed_batch is not None and len(part) < self._fixed_batch:
                pad = np.zeros((self._fixed_batch - len(part), *tensor.shape[1:]), tensor.dtype)
                tensor = np.concatenate([tensor, pad])
            heads = self.run_raw(tensor)
            results.extend(
                self._to_detections(heads[i], params, threshold, iou, max_det)
                for i, (_, params) in enumerate(placed)
            )
        return results

    def describe(self) -> dict[str, Any]:
        """What the service's GET /v1/model reports."""
        return {
            "name": self.card.name,
            "version": self.card.version,
            "path": str(self.model_path),
            "sha256": self.sha256,
            "input_size": self.input_size,
            "class_names": list(self.class_names),
            "operating_threshold": self.default_conf,
            "engine": self.engine,
            "providers": self._runner.providers(),
            "threads": self.threads,
        }
