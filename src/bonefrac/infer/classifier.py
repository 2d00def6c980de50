"""The image-level fracture classifier's engine: an ONNX model run by onnxruntime. Never imports torch.

    c = FractureClassifier("classifier.onnx", threads=2)
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
from bonefrac.infer.preprocess import is_grey_source, letterbox, preprocess, to_input_tensor
from bonefrac.infer.session import open_session
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
    ) -> None:
        from bonefrac.hashing import file_sha256

        self.model_path = Path(model_path)
        self._session = open_session(
            self.model_path,
            threads,
            providers,
            make_hint="make one with `bonefrac classify export runs/classifier/<run>/weights/best.pt`",
        )
        self.card = read_classifier_card(classifier_card_path(self.model_path))
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError(
                f"{self.model_path}: a fracture classifier has one (batch, 3, size, size) input, "
                f"got {[i.shape for i in inputs]}"
            )
        fixed = [d for d in inputs[0].shape[2:] if isinstance(d, int)]
        if fixed and any(d != self.card.input_size for d in fixed):
            raise ModelError(
                f"{self.model_path}: its card says input size {self.card.input_size}, "
                f"the ONNX graph expects {list(inputs[0].shape[2:])}"
            )
        last = outputs[0].shape[-1] if outputs and outputs[0].shape else None
        if len(outputs) != 1 or (isinstance(last, int) and last != 1):
            raise ModelError(
                f"{self.model_path}: a fracture classifier returns one probability per image, "
                f"got outputs {[o.shape for o in outputs]}"
            )
        self._input_name, self._output_name = inputs[0].name, outputs[0].name
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
        out = self._session.run([self._output_name], {self._input_name: tensor})[0]
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
        }
