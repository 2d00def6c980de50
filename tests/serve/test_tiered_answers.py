"""The service over a detector + classifier pair with two operating points: probability, score and call per
image, a tier per box, the operating points in every answer and in /v1/model, warm-up, audit."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect

from bonefrac.serve.audit import AuditEntry, AuditLog


@pytest.mark.parametrize(
    ("probability", "call", "tiers"),
    [
        (0.8, "high_specificity", ["high_specificity", "high_sensitivity"]),
        (0.2, "high_sensitivity", ["high_sensitivity", "high_sensitivity"]),
        (0.0, "negative", []),
    ],
)
def test_detect_calls_the_image_and_tiers_its_boxes(
    client_for, scripted_pair, samples, probability, call, tiers
):
    engine, classifier = scripted_pair(probability)
    body = (
        client_for(engine=engine, classifier=classifier)
        .post("/v1/detect", files={"file": samples.png()})
        .json()
    )
    assert body["image"]["fracture_probability"] == probability
    assert body["image"]["score"] == pytest.approx(0.5 * probability + 0.5 * 0.9)
    assert body["image"]["call"] == call
    assert [d["tier"] for d in body["detections"]] == tiers
    assert body["threshold"] == 0.1  # the high-sensitivity box threshold
    assert body["model"]["classifier"] == {"name": "scripted-classifier", "version": "1", "sha256": "cd" * 32}


def test_detect_answer_carries_the_operating_points_used(client_for, scripted_pair, samples):
    engine, classifier = scripted_pair()
    client = client_for(engine=engine, classifier=classifier)
    points = client.post("/v1/detect", files={"file": samples.png()}).json()["operating_points"]
    assert points == {
        "image_score": "fused",
        "classifier_weight": 0.5,
        "tiered": True,
        "high_specificity": {"image_threshold": 0.8, "box_threshold": 0.5, "target": "specificity>=0.9"},
        "high_sensitivity": {"image_threshold": 0.5, "box_threshold": 0.1, "target": "sensitivity>=0.9"},
        "min_confidence": None,
    }


def test_explicit_threshold_is_the_dashed_tiers_minimum_on_any_image(client_for, scripted_pair, samples):
    engine, classifier = scripted_pair(0.0)  # a negative image
    client = client_for(engine=engine, classifier=classifier)
    low = client.post("/v1/detect", files={"file": samples.png()}, data={"threshold": "0.15"}).json()
    assert low["image"]["call"] == "negative"
    assert low["threshold"] == 0.15 and low["operating_points"]["min_confidence"] == 0.15
    assert [(d["confidence"], d["tier"]) for d in low["detections"]] == [
        (0.9, "high_specificity"),
        (0.2, "high_sensitivity"),
    ]
    high = client.post("/v1/detect", files={"file": samples.png()}, data={"threshold": "0.95"}).json()
    assert high["detections"] == []  # nothing below the asked threshold, whatever its tier


def test_model_reports_the_classifier_and_both_operating_points(client_for, scripted_pair):
    engine, classifier = scripted_pair()
    body = client_for(engine=engine, classifier=classifier).get("/v1/model").json()
    assert body["classifier"] == {"name": "scripted-classifier", "version": "1", "sha256": "cd" * 32}
    assert body["operating_points"]["tiered"] is True
    assert body["operating_points"]["high_specificity"]["image_threshold"] == 0.8
    assert body["operating_points"]["high_sensitivity"]["box_threshold"] == 0.1
    assert body["card"]["classifier"]["sha256"] == "cd" * 32


def test_warm_up_runs_the_classifier_too(client_for, scripted_pair):
    engine, classifier = scripted_pair()
    client_for(engine=engine, classifier=classifier)
    assert classifier.calls == 1 and engine.calls == 1


def test_a_fused_card_without_its_classifier_is_not_ready(client_for, scripted_pair, samples):
    engine, _ = scripted_pair()
    client = client_for(engine=engine, wait=False)
    client.app.state.service._loader.join(10)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "ModelError" in ready.json()["detail"]
    assert "classifier" in ready.json()["detail"]


def test_annotated_png_draws_dashed_boxes_and_says_the_call(client_for, scripted_pair, samples):
    engine, classifier = scripted_pair(0.2)  # high_sensitivity: both boxes dashed
    client = client_for(engine=engine, classifier=classifier)
    response = client.post("/v1/detect/annotated", files={"file": samples.png((200, 160), mode="RGB")})
    assert response.headers["X-Call"] == "high_sensitivity" and response.headers["X-Detections"] == "2"
    pixels = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
    bottom = pixels[120, 50:151]  # the bottom edge of the 0.9 box (50, 40, 150, 120), 1 px wide
    red = np.all(bottom == (255, 56, 56), axis=1)
    assert 0.3 < red.mean() < 0.7  # dashes and gaps


def test_audit_row_records_call_and_probability_not_the_file_name(client_for, scripted_pair, samples):
    engine, classifier = scripted_pair(0.8)
    client = client_for(engine=engine, classifier=classifier)
    client.post(
        "/v1/detect",
        files={"file": ("patient-jane-doe.png", samples.png())},
        headers={"X-Request-ID": "req-tiers"},
    )
    (row,) = client.app.state.service.audit.rows()
    assert row["image_call"] == "high_specificity"
    assert row["fracture_probability"] == 0.8 and row["image_score"] == pytest.approx(0.85)
    assert [d["tier"] for d in json.loads(row["detections"])] == ["high_specificity", "high_sensitivity"]
    assert row["threshold"] == 0.1
    assert not any("jane" in str(value) for value in row.values())


def test_audit_log_adds_new_columns_to_an_older_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = MetaData()
    Table(
        "audit_log",
        old,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("time", String(40), nullable=False),
        Column("request_id", String(64), nullable=False),
        Column("route", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("outcome", String(64), nullable=False),
    )
    old.create_all(create_engine(url))
    log = AuditLog(url)
    columns = {c["name"] for c in inspect(log.engine).get_columns("audit_log")}
    assert {"image_call", "fracture_probability", "image_score", "detections"} <= columns
    log.write(AuditEntry(request_id="r1", route="/v1/detect", status_code=200, image_call="negative"))
    assert log.rows()[0]["image_call"] == "negative"
    log.close()
