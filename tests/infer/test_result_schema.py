"""One public schema for one image: predict's JSON, the API's /v1/detect answer and the UI's JSON download are
all valid under the published JSON Schema (docs/image-result.schema.json, what `bonefrac schema` prints), with
the same keys at every level. Real output of the shipped model, validated with `jsonschema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from infer_factories import dicom_bytes
from PIL import Image
from typer.testing import CliRunner

from bonefrac.cli import app
from bonefrac.infer.result_schema import SCHEMA_VERSION, ImageResult, result_json_schema
from bonefrac.paths import SHIPPED_MODEL

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parents[2]
PUBLISHED = REPO / "docs" / "image-result.schema.json"
needs_model = pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="this checkout has no shipped model")


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads(PUBLISHED.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def radiograph_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic radiograph with two planted fractures (the project's generator), as a PNG file."""
    from bonefrac.data.synth import render_radiograph

    gray, _ = render_radiograph(np.random.default_rng(5), 320, fractures=2)
    path = tmp_path_factory.mktemp("schema") / "wrist.png"
    Image.fromarray(gray).save(path)
    return path


def _keys(document: dict[str, Any]) -> dict[str, Any]:
    """The document's key structure: keys of each object, of the first detection too."""
    shape: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            shape[key] = _keys(value)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            shape[key] = [_keys(value[0])]
        else:
            shape[key] = None
    return shape


def test_published_schema_is_up_to_date():
    assert json.loads(PUBLISHED.read_text()) == result_json_schema(), (
        "docs/image-result.schema.json is stale: run `bonefrac schema --out docs/image-result.schema.json`"
    )


def test_schema_command_prints_the_published_schema():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == json.loads(PUBLISHED.read_text())


def test_schema_is_versioned_and_strict(validator):
    schema = result_json_schema()
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert schema["additionalProperties"] is False
    assert {"schema_version", "file_name", "detections", "image", "model"} <= set(schema["required"])


@needs_model
def test_predict_api_and_ui_give_one_valid_shape(validator, radiograph_png, tmp_path):
    from fastapi.testclient import TestClient

    from bonefrac.infer.analysis import FractureAnalyser
    from bonefrac.infer.batch import collect_inputs, predict_files
    from bonefrac.serve.app import create_app
    from bonefrac.serve.settings import ServeSettings
    from bonefrac.ui import present
    from bonefrac.ui.client import EngineClient

    data = radiograph_png.read_bytes()
    # predict: the JSON file it writes
    analyser = FractureAnalyser.from_model(SHIPPED_MODEL, threads=1)
    (outcome,) = predict_files(collect_inputs([radiograph_png]), analyser, tmp_path / "out", conf=0.01)
    predicted = json.loads(outcome.json_path.read_text())
    # the API: POST /v1/detect
    settings = ServeSettings(model_path=SHIPPED_MODEL, audit_db_url=f"sqlite:///{tmp_path / 'audit.db'}")
    service_app = create_app(settings)
    with TestClient(service_app) as client:
        assert service_app.state.service.wait_ready(120), service_app.state.service.load_error
        answer = client.post("/v1/detect", files={"file": ("wrist.png", data)}, data={"threshold": "0.01"})
        openapi = client.get("/openapi.json").json()
    assert answer.status_code == 200, answer.text
    answered = answer.json()
    # the UI: the JSON download of an in-process analysis
    analysis = EngineClient(SHIPPED_MODEL, threads=1).analyze(data, "wrist.png", 0.01)
    downloaded = json.loads(present.result_json(analysis))

    for document in (predicted, answered, downloaded):
        validator.validate(document)
        ImageResult.model_validate(document)
        assert document["schema_version"] == SCHEMA_VERSION
    assert predicted["detections"], "a threshold of 0.01 should leave boxes on this image"
    assert set(predicted) == set(answered) == set(downloaded) == set(ImageResult.model_fields)
    nested = [{k: v for k, v in d.items() if k != "timings"} for d in (predicted, answered, downloaded)]
    assert _keys(nested[0]) == _keys(nested[1]) == _keys(nested[2])  # timings: null outside the service
    assert answered["file_name"] == downloaded["file_name"] == "wrist.png"
    assert predicted["file_name"] == str(radiograph_png.resolve())
    assert predicted["detections"] == answered["detections"] == downloaded["detections"]
    assert predicted["request_id"] is None and answered["request_id"] and answered["timings"]["total_ms"] > 0
    detect = openapi["paths"]["/v1/detect"]["post"]["responses"]["200"]["content"]["application/json"]
    assert detect["schema"]["$ref"].endswith("/ImageResult")


@needs_model
def test_sizes_in_mm_when_the_image_gives_a_spacing(validator, tmp_path):
    from bonefrac.data.synth import render_radiograph
    from bonefrac.infer.analysis import FractureAnalyser
    from bonefrac.infer.batch import collect_inputs, predict_files

    gray, _ = render_radiograph(np.random.default_rng(5), 320, fractures=2)
    (tmp_path / "scan.dcm").write_bytes(dicom_bytes(gray, PixelSpacing=[0.1, 0.2]))
    analyser = FractureAnalyser.from_model(SHIPPED_MODEL, threads=1)
    (outcome,) = predict_files(collect_inputs([tmp_path / "scan.dcm"]), analyser, tmp_path / "out", conf=0.01)
    document = json.loads(outcome.json_path.read_text())
    validator.validate(document)
    box = document["detections"][0]
    assert box["width_mm"] == pytest.approx(box["width_px"] * 0.2, abs=0.01)
    assert box["height_mm"] == pytest.approx(box["height_px"] * 0.1, abs=0.01)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d["detections"][0].update(size_mm=3.0), "Additional properties"),
        (lambda d: d.update(schema_version="2.0"), "'1.0' was expected"),
        (lambda d: d.pop("file_name"), "'file_name' is a required property"),
        (lambda d: d["image"].update(source_format="png"), "Additional properties"),
        (lambda d: d["detections"][0].update(xyxy=[1, 2, 3]), "is too short"),
    ],
    ids=["size_mm", "another version", "no file_name", "source_format", "three corners"],
)
def test_other_shapes_are_refused(validator, change, words):
    document = _example_document()
    validator.validate(document)
    change(document)
    errors = [error.message for error in validator.iter_errors(document)]
    assert any(words in message for message in errors), errors


def _example_document() -> dict[str, Any]:
    tier = {"image_threshold": 0.5, "box_threshold": 0.2, "target": "max_f1"}
    return {
        "schema_version": SCHEMA_VERSION,
        "file_name": "wrist.png",
        "model": {"name": "m", "version": "1", "sha256": "ab", "stand_in": False, "classifier": None},
        "image": {
            "width": 100,
            "height": 80,
            "format": "png",
            "bytes": 1234,
            "sha256": "cd",
            "pixel_spacing_mm": None,
            "fracture_probability": None,
            "score": 0.6,
            "call": "high_specificity",
        },
        "operating_points": {
            "image_score": "detector",
            "classifier_weight": 0.0,
            "tiered": False,
            "high_specificity": tier,
            "high_sensitivity": tier,
            "min_confidence": None,
        },
        "threshold": 0.2,
        "detections": [
            {
                "class_id": 0,
                "class_name": "fractured",
                "confidence": 0.6,
                "xyxy": [1.0, 2.0, 11.0, 22.0],
                "width_px": 10.0,
                "height_px": 20.0,
                "width_mm": None,
                "height_mm": None,
                "tier": "high_specificity",
            }
        ],
        "request_id": None,
        "timings": None,
    }
