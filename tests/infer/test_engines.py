"""onnxruntime and OpenVINO run the shipped model to the same answers; unknown engine names are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bonefrac.errors import ConfigError
from bonefrac.export.parity import compare_detections, judge
from bonefrac.export.samples import load_samples, synthetic_samples
from bonefrac.infer.analysis import SCORE_FLOOR, FractureAnalyser
from bonefrac.infer.engines import ENGINES, check_engine, open_runner
from bonefrac.infer.predictor import Predictor

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "deploy" / "model" / "model.onnx"
FRACATLAS = Path(os.environ.get("BONEFRAC_FRACATLAS", REPO_ROOT.parent / "shared" / "data" / "fracatlas"))
FRACATLAS_TEST_IMAGES = 6


@pytest.mark.parametrize("name", ["onnx", "OpenVINO", "tensorrt", ""])
def test_unknown_engine_is_refused_with_the_accepted_names(name):
    with pytest.raises(ConfigError, match="accepted: onnxruntime, openvino") as caught:
        check_engine(name)
    assert repr(name) in str(caught.value)


def test_predictor_refuses_an_unknown_engine_before_loading():
    with pytest.raises(ConfigError, match="unknown engine 'tflite'"):
        Predictor(SHIPPED, engine="tflite")


def test_openvino_refuses_onnxruntime_providers():
    pytest.importorskip("openvino")
    with pytest.raises(ConfigError, match="do not apply to the openvino engine"):
        open_runner(SHIPPED, 1, ["CPUExecutionProvider"], engine="openvino", make_hint="")


@pytest.fixture(scope="module")
def analysers() -> dict[str, FractureAnalyser]:
    pytest.importorskip("openvino")
    return {engine: FractureAnalyser.from_model(SHIPPED, threads=1, engine=engine) for engine in ENGINES}


def _parity_images(fracatlas_dir: Path) -> list:
    images = synthetic_samples(8)
    test_folder = fracatlas_dir / "images" / "test"
    if test_folder.is_dir():
        images += load_samples(test_folder, count=FRACATLAS_TEST_IMAGES)
    return images


def test_both_engines_give_the_same_findings(analysers):
    images = _parity_images(FRACATLAS)
    reference, candidate = analysers["onnxruntime"], analysers["openvino"]
    assert candidate.detector.describe()["engine"] == "openvino"
    comparisons = []
    for name, image in images:
        ort_finding, ov_finding = reference.analyse(image), candidate.analyse(image)
        assert ov_finding.call == ort_finding.call, name
        assert ov_finding.box_tiers == ort_finding.box_tiers, name
        assert ov_finding.image_score == pytest.approx(ort_finding.image_score, abs=1e-3), name
        if ort_finding.fracture_probability is not None:
            expected = pytest.approx(ort_finding.fracture_probability, abs=1e-3)
            assert ov_finding.fracture_probability == expected, name
        # every box the score sees, down to the analyser's floor, not only the drawn ones
        ort_boxes = reference.detector.predict(image, conf=SCORE_FLOOR)
        ov_boxes = candidate.detector.predict(image, conf=SCORE_FLOOR)
        comparisons.append(compare_detections(name, ort_boxes, ov_boxes, threshold=SCORE_FLOOR))
    report = judge(comparisons)
    assert report.passed, report.failures
    assert sum(c.matched for c in comparisons) > 0, "the parity images gave no boxes to compare"


def test_predict_command_runs_on_openvino(tmp_path):
    """`bonefrac predict --engine openvino` writes the same per-image document as the default engine."""
    pytest.importorskip("openvino")
    import json
    import subprocess
    import sys

    from PIL import Image

    name, image = synthetic_samples(2)[1]
    source = tmp_path / f"{name}.png"
    Image.fromarray(image.pixels).save(source)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    documents = {}
    for engine in ("onnxruntime", "openvino"):
        out = tmp_path / engine
        proc = subprocess.run(
            [sys.executable, "-m", "bonefrac", "predict", str(source), "--model", str(SHIPPED)]
            + ["--out", str(out), "--no-images", "--engine", engine],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"engine {engine}" in " ".join(proc.stdout.split())
        documents[engine] = json.loads((out / f"{name}.json").read_text())
    ort_doc, ov_doc = documents["onnxruntime"], documents["openvino"]
    assert ov_doc["image"]["call"] == ort_doc["image"]["call"]
    assert ov_doc["image"]["score"] == pytest.approx(ort_doc["image"]["score"], abs=1e-3)
    assert len(ov_doc["detections"]) == len(ort_doc["detections"])
    for ov_box, ort_box in zip(ov_doc["detections"], ort_doc["detections"], strict=True):
        assert ov_box["confidence"] == pytest.approx(ort_box["confidence"], abs=1e-3)


def test_bf16_engine_runs_in_the_precision_the_cpu_has_and_finds_the_same_boxes(analysers):
    """openvino-bf16 computes in bfloat16 where the CPU does natively, else in float32, and says which; its
    scores move by rounding (about 1e-2), not its findings: the same boxes at IoU 0.5 on the parity images."""
    import openvino as ov

    native_bf16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    reference, candidate = analysers["onnxruntime"], analysers["openvino-bf16"]
    described = candidate.detector.describe()
    assert described["engine"] == "openvino-bf16"
    assert described["providers"] == [f"OpenVINO CPU ({'bf16' if native_bf16 else 'f32'})"]
    assert analysers["openvino"].detector.describe()["providers"] == ["OpenVINO CPU (f32)"]
    comparisons, score_moves = [], []
    for name, image in _parity_images(FRACATLAS):
        comparisons.append(
            compare_detections(
                name,
                reference.detector.predict(image, conf=0.1),
                candidate.detector.predict(image, conf=0.1),
                threshold=0.1,
                min_iou=0.5,
                conf_tol=1.0,
            )
        )
        score_moves.append(abs(candidate.analyse(image).image_score - reference.analyse(image).image_score))
    report = judge(comparisons, min_iou=0.5, conf_tol=1.0)
    assert report.reference_boxes > 0, "the parity images gave no boxes to compare"
    assert report.box_agreement >= 0.9, report.failures
    assert report.mean_conf_delta < 0.02
    assert max(score_moves) < 0.1
    if not native_bf16:  # float32 fallback: onnxruntime's numbers
        assert max(score_moves) < 1e-3


def test_openvino_gives_each_concurrent_caller_its_own_stream():
    """Requests on one OpenVINO stream wait for each other: a service running two inferences at once needs
    two streams of `threads` each, or it runs on one core."""
    pytest.importorskip("openvino")
    runner = open_runner(SHIPPED, 1, engine="openvino-bf16", make_hint="", concurrency=2)
    compiled = runner._compiled  # type: ignore[attr-defined]
    expected = min(2, os.cpu_count() or 1)  # OpenVINO runs no more streams than the CPU has cores
    assert int(compiled.get_property("NUM_STREAMS")) == expected
    single = open_runner(SHIPPED, 2, engine="openvino", make_hint="")
    assert int(single._compiled.get_property("NUM_STREAMS")) == 1  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="concurrency must be >= 1"):
        open_runner(SHIPPED, 1, engine="openvino", make_hint="", concurrency=0)
