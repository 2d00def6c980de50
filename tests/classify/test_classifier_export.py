"""Export to ONNX: the torch-free engine gives the checkpoint's probabilities; bad inputs are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bonefrac.errors import ModelError

pytestmark = pytest.mark.slow


def test_export_writes_model_and_card_with_parity(
    tiny_classifier_onnx: Path, tiny_classifier_run: Path
) -> None:
    from bonefrac.hashing import file_sha256

    card = json.loads((tiny_classifier_onnx.parent / "classifier_card.json").read_text())
    assert card["weights_sha256"] == file_sha256(tiny_classifier_onnx)
    assert card["source_weights_sha256"] == file_sha256(tiny_classifier_run / "weights" / "best.pt")
    assert card["input_size"] == 64
    assert card["metrics"]["export_parity"]["max_abs_difference"] <= 1e-4
    assert card["pretrained"]["sha256"]


def test_engine_matches_torch_on_a_radiograph(tiny_classifier_onnx: Path, tiny_classifier_run: Path) -> None:
    torch = pytest.importorskip("torch")
    from bonefrac.classify.trainer import load_classifier_checkpoint
    from bonefrac.export.samples import synthetic_samples
    from bonefrac.infer.classifier import FractureClassifier
    from bonefrac.infer.preprocess import letterbox, to_input_tensor

    samples = [image for _, image in synthetic_samples(3, seed=5)]
    engine = FractureClassifier(tiny_classifier_onnx, use_cv2=False)
    model, _ = load_classifier_checkpoint(tiny_classifier_run / "weights" / "best.pt")
    x = to_input_tensor([letterbox(s.pixels, 64)[0] for s in samples])
    with torch.inference_mode():
        expected = torch.sigmoid(model(torch.from_numpy(x))).numpy()
    assert np.allclose(engine.probabilities(samples), expected, atol=1e-4)
    assert engine.probability(samples[0]) == pytest.approx(float(expected[0]), abs=1e-4)


def test_export_refuses_a_detector_checkpoint(tiny_pt_weights: Path, tmp_path: Path) -> None:
    from bonefrac.classify.export import export_classifier
    from bonefrac.export.samples import synthetic_samples

    with pytest.raises(ModelError, match="not a bonefrac classifier checkpoint"):
        export_classifier(tiny_pt_weights, tmp_path, synthetic_samples(2))
    assert not list(tmp_path.iterdir())
