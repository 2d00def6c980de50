"""Export on the tiny trained model: ONNX + card, parity with ultralytics, int8, and parity failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bonefrac.card.record import (
    CARD_FILENAME,
    INT8_FILENAME,
    ModelCard,
    OperatingPoint,
    read_model_card,
    write_model_card,
)
from bonefrac.errors import ExportError, ModelError
from bonefrac.export.onnx import MODEL_FILENAME, export_onnx
from bonefrac.export.parity import check_parity, ultralytics_predict
from bonefrac.export.samples import synthetic_samples
from bonefrac.hashing import file_sha256
from bonefrac.infer.predictor import Predictor


@pytest.fixture(scope="module")
def weights_folder_before_export(tiny_pt_weights: Path) -> list[Path]:
    return sorted(tiny_pt_weights.parent.iterdir())


@pytest.fixture(scope="module")
def exported(
    tiny_pt_weights: Path, weights_folder_before_export: list[Path], tmp_path_factory: pytest.TempPathFactory
):
    return export_onnx(tiny_pt_weights, tmp_path_factory.mktemp("export"), imgsz=64, int8=True)


@pytest.mark.slow
def test_export_writes_model_card_and_passes_parity(exported, tiny_pt_weights, weights_folder_before_export):
    out = exported.onnx_path.parent
    assert exported.onnx_path.name == MODEL_FILENAME and exported.card_path == out / CARD_FILENAME
    card = read_model_card(exported.card_path)
    assert card.class_names == ["fractured"] and card.input_size == 64 and card.stride == 32
    assert card.weights_sha256 == file_sha256(exported.onnx_path)
    assert card.source_weights_sha256 == file_sha256(tiny_pt_weights)
    assert {"bonefrac", "ultralytics", "torch", "onnxruntime"} <= set(card.produced_by)
    assert card.dataset_fingerprint and card.stand_in  # trained on the synthetic set
    parity = card.metrics["export_parity"]
    assert parity["passed"] and parity["matched_boxes"] > 0 and parity["min_matched_iou"] > 0.99
    # nothing written beside the user's weights
    assert sorted(tiny_pt_weights.parent.iterdir()) == weights_folder_before_export


@pytest.mark.slow
def test_exported_engine_matches_ultralytics_pt(exported, tiny_pt_weights):
    images = synthetic_samples(4, seed=5)
    predictor = Predictor(exported.onnx_path)
    reference = ultralytics_predict(tiny_pt_weights, [img for _, img in images], 64, 0.001, 0.7, 300)
    for (_, image), ref in zip(images, reference, strict=True):
        got = predictor.predict(image, conf=0.001)
        assert len(got) == len(ref) > 0
        order_got, order_ref = np.argsort(-got.confidence), np.argsort(-ref.confidence)
        np.testing.assert_allclose(got.xyxy[order_got], ref.xyxy[order_ref], atol=0.05)
        np.testing.assert_allclose(got.confidence[order_got], ref.confidence[order_ref], atol=1e-4)


@pytest.mark.slow
def test_export_int8_measured_in_card(exported):
    assert exported.int8_path is not None and exported.int8_path.name == INT8_FILENAME
    quant = exported.card.quantization
    assert quant["sha256"] == file_sha256(exported.int8_path)
    assert quant["score_change"]["all"] >= 0 and isinstance(quant["float_modules"], list)
    assert quant["speedup"] > 0 and quant["fp32_session_ms"] > 0
    assert [a["conf"] for a in quant["agreement"]] == [0.25, 0.01]
    assert all(0.0 <= a["box_agreement"] <= 1.0 for a in quant["agreement"])
    int8 = Predictor(exported.int8_path)
    assert int8.input_size == 64 and len(int8.predict(synthetic_samples(1)[0][1], conf=0.001)) > 0


@pytest.mark.slow
def test_parity_fails_loudly_for_tampered_model(exported, tiny_pt_weights, tmp_path):
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(exported.onnx_path))
    # shift the class-score biases of the head's three scales: every confidence changes
    changed = 0
    for init in model.graph.initializer:
        if "cv3" in init.name and init.name.endswith("bias") and len(init.dims) == 1 and init.dims[0] == 1:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) + 0.5, init.name))
            changed += 1
    assert changed == 3
    tampered = tmp_path / "model.onnx"
    onnx.save(model, str(tampered))
    with pytest.raises(ExportError, match="parity check failed"):
        check_parity(tampered, tiny_pt_weights, synthetic_samples(3))


@pytest.mark.slow
def test_parity_fails_loudly_for_tampered_card(exported, tiny_pt_weights, tmp_path):
    shutil.copyfile(exported.onnx_path, tmp_path / MODEL_FILENAME)
    card = exported.card.model_copy(update={"input_size": 128})
    write_model_card(card, tmp_path / CARD_FILENAME)
    with pytest.raises(ExportError, match="input size 128"):
        check_parity(tmp_path / MODEL_FILENAME, tiny_pt_weights, synthetic_samples(2))


@pytest.mark.slow
def test_export_keeps_operating_point_from_card_beside_weights(tiny_pt_weights, tmp_path):
    weights = tmp_path / "run" / "weights" / "best.pt"
    weights.parent.mkdir(parents=True)
    shutil.copyfile(tiny_pt_weights, weights)
    (tmp_path / "run" / "metrics.json").write_text(json.dumps({"map50": 0.42}))
    chosen = OperatingPoint(threshold=0.37, rule="target_sensitivity=0.9", split="val", sensitivity=0.9)
    card = ModelCard(
        name="wrist", version="3", class_names=["fractured"], input_size=64, operating_point=chosen
    )
    write_model_card(card, weights.parent / CARD_FILENAME)
    result = export_onnx(weights, tmp_path / "out", imgsz=64, parity_count=2)
    assert result.card.operating_point == chosen and result.card.name == "wrist"
    assert result.card.metrics["map50"] == 0.42 and "export_parity" in result.card.metrics
    assert Predictor(result.onnx_path).default_conf == 0.37


@pytest.mark.parametrize(
    ("name", "content", "imgsz", "error", "message"),
    [
        ("absent.pt", None, 64, ModelError, "not found"),
        ("model.onnx", b"x", 64, ModelError, "not a .pt"),
        ("best.pt", b"x", 65, ExportError, "multiple of 32"),
    ],
)
def test_export_refuses_bad_arguments(tmp_path, name, content, imgsz, error, message):
    weights = tmp_path / name
    if content is not None:
        weights.write_bytes(content)
    with pytest.raises(error, match=message):
        export_onnx(weights, tmp_path / "out", imgsz=imgsz)
