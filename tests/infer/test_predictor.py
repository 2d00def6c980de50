"""The Predictor on ONNX models with a hand-built head output: decode, mapping, card handling, threads."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from infer_factories import head_from_boxes

from bonefrac.card.record import CARD_FILENAME, ModelCard, OperatingPoint, write_model_card
from bonefrac.errors import ModelError
from bonefrac.infer.predictor import Predictor
from bonefrac.records import Radiograph

REPO = Path(__file__).resolve().parents[2]

# In 64 px input coordinates: a strong box, a near duplicate (NMS removes it), a box of class 1 at the
# same place (kept: class-aware NMS), and a weak one (below the card's 0.25).
HEAD = head_from_boxes(
    [
        (32, 32, 16, 16, 0.90, 0.05),
        (33, 32, 16, 16, 0.80, 0.05),
        (32, 32, 16, 16, 0.05, 0.70),
        (8, 8, 4, 4, 0.10, 0.00),
    ],
    anchors=12,
)


def _image(height: int, width: int, value: int = 90) -> Radiograph:
    return Radiograph(np.full((height, width, 3), value, np.uint8), "png")


@pytest.fixture
def model(constant_model) -> Path:
    return constant_model(HEAD, size=64, names={0: "fractured", 1: "implant"})


def test_predictor_decodes_hand_built_output_into_original_pixels(model):
    p = Predictor(model, threads=1)
    detections = p.predict(_image(128, 256))  # gain 0.25, 64x32 placed 16 px down
    assert p.class_names == ("fractured", "implant") and p.input_size == 64
    assert len(detections) == 2
    np.testing.assert_allclose(detections.confidence, [0.9, 0.7], rtol=1e-6)
    np.testing.assert_array_equal(detections.class_id, [0, 1])
    # (24, 24, 40, 40) in input pixels -> minus the 16 px top padding -> divided by 0.25
    np.testing.assert_allclose(detections.xyxy[0], [96, 32, 160, 96])
    assert detections.class_names == ("fractured", "implant")


def test_predictor_conf_and_iou_arguments(model):
    p = Predictor(model, threads=1)
    assert len(p.predict(_image(64, 64), conf=0.05)) == 3  # the weak box appears, not its duplicate
    assert len(p.predict(_image(64, 64), iou=0.95)) == 3  # the duplicate survives a lax NMS
    with pytest.raises(ValueError, match="conf"):
        p.predict(_image(64, 64), conf=1.5)


def test_predictor_uses_card_beside_model(model):
    card = ModelCard(
        name="wrist",
        version="7",
        class_names=["fractured", "implant"],
        input_size=64,
        operating_point=OperatingPoint(threshold=0.75, rule="target_sensitivity=0.9"),
    )
    write_model_card(card, model.parent / CARD_FILENAME)
    p = Predictor(model)
    assert p.card.name == "wrist" and p.default_conf == 0.75
    assert p.predict(_image(64, 64)).confidence.tolist() == pytest.approx([0.9])


def test_predictor_card_from_metadata_without_card(model):
    p = Predictor(model)
    assert not (model.parent / CARD_FILENAME).exists()
    assert p.card.input_size == 64 and p.card.class_names == ["fractured", "implant"]
    assert len(p.sha256) == 64
    assert p.describe()["sha256"] == p.sha256


@pytest.mark.parametrize(
    ("card_change", "message"),
    [
        ({"input_size": 128}, "input size 128"),
        ({"class_names": ["only_one"]}, "class scores"),
        ({"task": "segment"}, "task"),
    ],
)
def test_predictor_refuses_card_that_contradicts_graph(model, card_change, message):
    fields = {"name": "m", "version": "1", "class_names": ["a", "b"], "input_size": 64, **card_change}
    write_model_card(ModelCard(**fields), model.parent / CARD_FILENAME)
    with pytest.raises(ModelError, match=message):
        Predictor(model)


def test_predictor_refuses_missing_and_non_onnx_files(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Predictor(tmp_path / "absent.onnx")
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="bonefrac export"):
        Predictor(weights)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"garbage")
    with pytest.raises(ModelError, match="cannot load"):
        Predictor(broken)


def test_predictor_refuses_unknown_provider(model):
    with pytest.raises(ModelError, match="not available"):
        Predictor(model, providers=["NoSuchExecutionProvider"])


def test_predictor_without_class_names_in_metadata(constant_model):
    path = constant_model(HEAD, names={})
    with pytest.raises(ModelError, match="no class names"):
        Predictor(path)


def test_predict_batch_equals_predict(model):
    p = Predictor(model, threads=1)
    images = [_image(128, 256), _image(64, 64), _image(300, 100)]
    batched = p.predict_batch(images, conf=0.05)
    single = [p.predict(img, conf=0.05) for img in images]
    for a, b in zip(batched, single, strict=True):
        np.testing.assert_array_equal(a.xyxy, b.xyxy)
        np.testing.assert_array_equal(a.confidence, b.confidence)
    assert p.predict_batch([]) == []


def test_predictor_thread_safe_same_results(model):
    p = Predictor(model, threads=1)
    images = [_image(64 + 16 * k, 200 - 8 * k, 40 + k) for k in range(8)]
    expected = [p.predict(img).xyxy for img in images]
    results: dict[tuple[int, int], np.ndarray] = {}
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for _ in range(5):
                for k, img in enumerate(images):
                    results[(worker, k)] = p.predict(img).xyxy
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 6 * len(images)
    for (_, k), xyxy in results.items():
        np.testing.assert_array_equal(xyxy, expected[k])


def test_engine_path_never_imports_torch(model, tmp_path):
    """Load a model, decode an image file and predict in a fresh interpreter: no torch, no ultralytics."""
    from PIL import Image

    image = tmp_path / "x.png"
    Image.fromarray(np.full((50, 70), 120, np.uint8)).save(image)
    code = (
        "import sys, json\n"
        "from bonefrac.infer.predictor import Predictor\n"
        "from bonefrac.infer.batch import collect_inputs, predict_files\n"
        "from bonefrac.infer.analysis import FractureAnalyser\n"
        "from bonefrac.infer.classifier import FractureClassifier\n"
        "from bonefrac.infer.result_schema import image_result\n"
        "from bonefrac.imaging.io import load_image\n"
        "from bonefrac.imaging.render import draw_detections\n"
        f"p = Predictor({str(model)!r})\n"
        f"d = p.predict(load_image({str(image)!r}))\n"
        "draw_detections(load_image(sys.argv[1]), d)\n"
        "a, r = FractureAnalyser(p), load_image(sys.argv[1])\n"
        "image_result(a, a.analyse(r), r, size_bytes=1, sha256='x')\n"
        "print(json.dumps({'boxes': len(d), 'torch': 'torch' in sys.modules,"
        " 'ultralytics': 'ultralytics' in sys.modules}))\n"
    )
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(image)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"boxes": 2, "torch": False, "ultralytics": False}
