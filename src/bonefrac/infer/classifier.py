"""The image-level fracture classifier's engine: an ONNX model run by onnxruntime or OpenVINO. Never imports
torch.

    c = FractureClassifier("classifier.onnx", threads=2)     # engine="openvino" for OpenVINO
    p = c.probability(load_image("wrist.dcm"))       # probability that the radiograph shows a fracture

The model takes the detector's input (letterboxed RGB, grey 114 padding, (N, 3, S, S) float in [0, 1]) and
returns (N, 1) probabilities; classifier_card.json beside it says its input size and provenance.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bonefrac.card.classifier import classifier_card_path, read_classifier_card
from bonefrac.errors import ModelError
from bonefrac.infer.engines import DEFAULT_ENGINE, open_runner
from bonefrac.infer.preprocess import is_grey_source, letterbox, preprocess, to_input_tensor
from bonefrac.records import Radiograph

logger = logging.getLogger(__name__)


class FractureClassifier:
    """Image-level fracture probability from an exported classifier; safe to share between threads."""

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
        from bonefrac.hashing import file_sha256

        self.model_path = Path(model_path)
        self._runner = open_runner(
            self.model_path,
            threads,
            providers,
            engine=engine,
            concurrency=concurrency,
            make_hint="make one with `bonefrac classify export runs/classifier/<run>/weights/best.pt`",
        )
        self.engine = engine
        self.card = read_classifier_card(classifier_card_path(self.model_path))
        input_shape, output_shapes = self._runner.input_shape, self._runner.output_shapes
        if len(input_shape) != 4:
            raise ModelError(
                f"{self.model_path}: a fracture classifier has one (batch, 3, size, size) input, "
                f"got {input_shape}"
            )
        fixed = [d for d in input_shape[2:] if isinstance(d, int)]
        if fixed and any(d != self.card.input_size for d in fixed):
            raise ModelError(
                f"{self.model_path}: its card says input size {self.card.input_size}, "
                f"the ONNX graph expects {list(input_shape[2:])}"
            )
        last = output_shapes[0][-1] if output_shapes and output_shapes[0] else None
        if len(output_shapes) != 1 or (isinstance(last, int) and last != 1):
            raise ModelError(
                f"{self.model_path}: a fracture classifier returns one probability per image, "
                f"got outputs {output_shapes}"
            )
        self.input_size = self.card.input_size
        self.threads = threads
        self.use_cv2 = use_cv2
        self.sha256 = file_sha256(self.model_path)
        if self.card.weights_sha256 and self.card.weights_sha256 != self.sha256:
            raise ModelError(
                f"{self.model_path}: sha256 {self.sha256[:12]} does not match its card's "
                f"{self.card.weights_sha256[:12]}; the card describes another file"
            )

    def run_raw(self, tensor: np.ndarray) -> np.ndarray:
        """(N,) probabilities of a prepared (N, 3, S, S) float32 tensor in [0, 1]."""
        out = self._runner.run(tensor)
        return np.asarray(out, dtype=np.float64).reshape(-1)

    def probability(self, image: Radiograph) -> float:
        """The probability that one radiograph shows a fracture."""
        tensor, _ = preprocess(
            image.pixels, self.input_size, use_cv2=self.use_cv2, grey=is_grey_source(image.metadata)
        )
        return float(self.run_raw(tensor)[0])

    def probabilities(self, images: Sequence[Radiograph], chunk: int = 16) -> list[float]:
        """One probability per image, in order, batched through the session."""
        results: list[float] = []
        for start in range(0, len(images), chunk):
            part = images[start : start + chunk]
            boxed = [
                letterbox(i.pixels, self.input_size, use_cv2=self.use_cv2, grey=is_grey_source(i.metadata))[0]
                for i in part
            ]
            results.extend(self.run_raw(to_input_tensor(boxed)).tolist())
        return results

    def describe(self) -> dict[str, Any]:
        """What the service reports about the classifier."""
        return {
            "name": self.card.name,
            "version": self.card.version,
            "path": str(self.model_path),
            "sha256": self.sha256,
            "input_size": self.input_size,
            "architecture": self.card.architecture,
            "engine": self.engine,
        }
