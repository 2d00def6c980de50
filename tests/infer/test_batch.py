"""Batch prediction: inputs from files, folders and globs; outputs; a bad file never ends the batch."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from infer_factories import dicom_bytes, head_from_boxes
from PIL import Image

from bonefrac.errors import ConfigError
from bonefrac.hashing import file_sha256
from bonefrac.infer.analysis import FractureAnalyser
from bonefrac.infer.batch import SUMMARY_FILENAME, collect_inputs, predict_files
from bonefrac.infer.predictor import Predictor
from bonefrac.infer.result_schema import ImageResult

REPO = Path(__file__).resolve().parents[2]
HEAD = head_from_boxes([(32, 32, 16, 16, 0.9)], anchors=4)


def _png(path: Path, height: int = 40, width: int = 60) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width), 100, np.uint8)).save(path)
    return path


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    _png(root / "a.png")
    _png(root / "nested" / "deeper" / "b.png")
    _png(root / "other" / "a.png")  # same stem as the first: outputs must not collide
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    _png(root / ".hidden" / "skip.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return root


def test_collect_inputs_folder_recursive_with_unique_stems(image_folder):
    items = collect_inputs([image_folder])
    names = sorted(str(i.path.relative_to(image_folder)) for i in items)
    assert names == ["a.png", "broken.jpg", "nested/deeper/b.png", "other/a.png"]
    stems = [i.output_stem for i in items]
    assert len(set(stems)) == len(stems)


def test_collect_inputs_globs_files_and_errors(image_folder):
    assert len(collect_inputs([str(image_folder / "**" / "*.png")])) == 3
    assert len(collect_inputs([image_folder / "a.png", image_folder / "a.png"])) == 1
    with pytest.raises(ConfigError, match="no such file"):
        collect_inputs([image_folder / "absent.png"])
    with pytest.raises(ConfigError, match="matches no files"):
        collect_inputs([str(image_folder / "*.tif")])
    empty = image_folder / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no image files"):
        collect_inputs([empty])


def test_collect_inputs_finds_dicom_without_suffix(tmp_path):
    pytest.importorskip("pydicom")
    (tmp_path / "IM0001").write_bytes(dicom_bytes(np.zeros((8, 8), np.uint8)))
    (tmp_path / "README").write_text("a readme, not DICOM")
    assert [i.path.name for i in collect_inputs([tmp_path])] == ["IM0001"]


def _analyser(model: Path) -> FractureAnalyser:
    return FractureAnalyser(Predictor(model))


def test_predict_files_writes_outputs_and_skips_bad_file(constant_model, image_folder, tmp_path):
    predictor = Predictor(constant_model(HEAD, names={0: "fractured"}))
    out = tmp_path / "out"
    seen = []
    outcomes = predict_files(
        collect_inputs([image_folder]), FractureAnalyser(predictor), out, on_done=seen.append
    )
    assert len(seen) == 4
    assert [o.ok for o in outcomes].count(False) == 1
    failed = next(o for o in outcomes if not o.ok)
    assert failed.path.name == "broken.jpg" and "JPEG" in failed.error
    ok = [o for o in outcomes if o.ok]
    for outcome in ok:
        payload = json.loads(outcome.json_path.read_text())
        assert payload["detections"][0]["class_name"] == "fractured"
        assert payload["detections"][0]["tier"] == "high_specificity"
        assert payload["model"]["sha256"] == predictor.sha256 and payload["model"]["classifier"] is None
        assert payload["image"]["call"] == "high_specificity" and payload["image"]["score"] == 0.9
        assert payload["image"]["fracture_probability"] is None
        assert payload["image"]["sha256"] == file_sha256(outcome.path)
        assert Image.open(outcome.image_path).size == (60, 40)
    with open(out / SUMMARY_FILENAME, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["status"] for r in rows].count("ok") == 3
    good = next(r for r in rows if r["status"] == "ok")
    assert (good["call"], good["score"], good["fracture_probability"]) == ("high_specificity", "0.90000", "")
    assert (good["high_specificity_boxes"], good["high_sensitivity_boxes"]) == ("1", "0")
    assert next(r for r in rows if r["status"] == "failed")["error"]


def test_predict_json_is_the_public_schema_the_service_answers(constant_model, tmp_path):
    from bonefrac.serve.schemas import DetectResponse

    (tmp_path / "in").mkdir()
    _png(tmp_path / "in" / "a.png")
    model = constant_model(HEAD, names={0: "fractured"})
    (outcome,) = predict_files(collect_inputs([tmp_path / "in"]), _analyser(model), tmp_path / "out")
    payload = json.loads(outcome.json_path.read_text())
    assert DetectResponse is ImageResult and set(payload) == set(ImageResult.model_fields)
    assert payload["schema_version"] == "1.0" and payload["file_name"] == str(tmp_path / "in" / "a.png")
    assert payload["request_id"] is None and payload["timings"] is None
    ImageResult.model_validate(payload)


def test_predict_json_reports_size_in_mm_for_dicom(constant_model, tmp_path):
    pytest.importorskip("pydicom")
    stored = np.full((40, 60), 100, np.uint8)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.dcm").write_bytes(dicom_bytes(stored, PixelSpacing=[0.1, 0.2]))
    model = constant_model(HEAD, names={0: "fractured"})
    (outcome,) = predict_files(collect_inputs([tmp_path / "in"]), _analyser(model), tmp_path / "out")
    payload = json.loads(outcome.json_path.read_text())
    assert payload["image"]["pixel_spacing_mm"] == [0.1, 0.2] and payload["image"]["format"] == "dicom"
    box = payload["detections"][0]
    width_px, height_px = box["xyxy"][2] - box["xyxy"][0], box["xyxy"][3] - box["xyxy"][1]
    assert box["width_mm"] == pytest.approx(round(width_px * 0.2, 2))
    assert box["height_mm"] == pytest.approx(round(height_px * 0.1, 2))


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "bonefrac", *args], capture_output=True, text=True, env=env, timeout=180
    )


def test_predict_cli_folder_with_one_bad_file_exits_1(constant_model, image_folder, tmp_path):
    model = constant_model(HEAD, names={0: "fractured"})
    out = tmp_path / "cli_out"
    done = _run_cli("predict", str(image_folder), "--weights", str(model), "--out", str(out), "--conf", "0.5")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "broken.jpg" in done.stderr
    assert "3 of 4 images done" in done.stdout
    assert "3 high_specificity, 0 high_sensitivity, 0 negative" in done.stdout
    assert len(list(out.glob("*.json"))) == 3 and len(list(out.glob("*.png"))) == 3
    payload = json.loads(next(out.glob("*.json")).read_text())
    assert payload["threshold"] == 0.5 and payload["operating_points"]["min_confidence"] == 0.5


def test_predict_cli_all_good_exits_0_and_no_images_option(constant_model, image_folder, tmp_path):
    model = constant_model(HEAD, names={0: "fractured"})
    out = tmp_path / "cli_ok"
    image = str(image_folder / "a.png")
    done = _run_cli("predict", image, "--weights", str(model), "--out", str(out), "--no-images")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [p.name for p in out.iterdir()] and not list(out.glob("*.png"))
    card = Predictor(model).card
    assert f"model {card.name} {card.version}, sha256 {file_sha256(model)}" in done.stdout
    assert "classifier: none (the detector alone)" in done.stdout
    assert "one operating point for both tiers: 0.250 (default)" in done.stdout
    assert "a.png: high_specificity, score 0.900, fracture probability -; boxes: 0.900 high_specificity" in (
        done.stdout
    )


def test_predict_cli_missing_input_exits_2(constant_model, tmp_path):
    model = constant_model(HEAD, names={0: "fractured"})
    done = _run_cli("predict", str(tmp_path / "nothing.png"), "--weights", str(model))
    assert done.returncode == 2 and "no such file" in done.stderr


@pytest.mark.slow
def test_dicom_gives_same_detections_as_png(tiny_onnx_model, tmp_path):
    """MONOCHROME2 16-bit with rescale + window, and MONOCHROME1 8-bit, decode to the PNG's pixels."""
    pytest.importorskip("pydicom")
    from bonefrac.data.synth import render_radiograph
    from bonefrac.imaging.io import load_image

    gray, _ = render_radiograph(np.random.default_rng(3), 96, fractures=2)
    _png_path = tmp_path / "x.png"
    Image.fromarray(gray).save(_png_path)
    # modality value = 0.5 * stored - 500 = 4 * gray; LINEAR window c=510.5, w=1021 maps 4*gray back to gray
    stored16 = (gray.astype(np.uint16) * 8 + 1000).astype(np.uint16)
    mono2 = dicom_bytes(
        stored16,
        RescaleSlope=0.5,
        RescaleIntercept=-500,
        WindowCenter=510.5,
        WindowWidth=1021,
        PixelSpacing=[0.15, 0.15],
    )
    # MONOCHROME1: bright means low; window c=128, w=256 (LINEAR) is the identity on 0..255, then inverted
    inverted = (255 - gray).astype(np.uint8)
    mono1 = dicom_bytes(inverted, photometric="MONOCHROME1", WindowCenter=128, WindowWidth=256)
    predictor = Predictor(tiny_onnx_model)
    png = load_image(_png_path)
    expected = predictor.predict(png, conf=0.001)
    assert len(expected) > 0
    for data in (mono2, mono1):
        dicom = load_image(data)
        np.testing.assert_array_equal(dicom.pixels, png.pixels)
        got = predictor.predict(dicom, conf=0.001)
        np.testing.assert_array_equal(got.xyxy, expected.xyxy)
        np.testing.assert_array_equal(got.confidence, expected.confidence)


@pytest.mark.slow
def test_predict_cli_with_a_classifier_and_two_tiers(tiered_model, tiny_pair_reference, tmp_path):
    from bonefrac.imaging.io import load_image
    from bonefrac.infer.classifier import FractureClassifier

    model = tiered_model()
    out = tmp_path / "tiered_out"
    done = _run_cli("predict", str(tiny_pair_reference.image), "--weights", str(model), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    classifier = FractureClassifier(model.parent / "classifier.onnx")
    probability = classifier.probability(load_image(tiny_pair_reference.image))
    assert f"classifier {classifier.card.name} {classifier.card.version}, sha256 {classifier.sha256}" in (
        done.stdout
    )
    assert "high specificity (solid boxes): image score >=" in done.stdout
    payload = json.loads(next(out.glob("*.json")).read_text())
    assert payload["image"]["fracture_probability"] == pytest.approx(probability, abs=1e-5)
    assert payload["image"]["call"] == "high_specificity"
    weaker = len(tiny_pair_reference.confidences) - 1
    tiers = ["high_specificity"] + ["high_sensitivity"] * weaker
    assert [d["tier"] for d in payload["detections"]] == tiers
    assert f"{tiny_pair_reference.image}: high_specificity, score " in done.stdout
    assert f"fracture probability {probability:.3f}; boxes: " in done.stdout
    with open(out / SUMMARY_FILENAME, newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["call"] == "high_specificity" and float(row["fracture_probability"]) == pytest.approx(
        probability, abs=1e-5
    )
    assert (row["high_specificity_boxes"], row["high_sensitivity_boxes"]) == ("1", str(weaker))
