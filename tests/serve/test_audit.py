"""Every API request leaves one audit row: ids, image hash, model hash, detections, outcome; no pixels."""

from __future__ import annotations

import json

from bonefrac.serve.audit import AuditEntry, AuditLog


def test_audit_rows_for_success_and_failure(client, samples):
    good = client.post("/v1/detect", files={"file": samples.png()}, headers={"X-Request-ID": "req-1"})
    client.post("/v1/detect", files={"file": b"garbage bytes"}, headers={"X-Request-ID": "req-2"})
    client.post("/v1/detect", data={"threshold": "2"}, headers={"X-Request-ID": "req-3"})
    rows = {r["client_request_id"]: r for r in client.app.state.service.audit.rows()}
    ok = rows["req-1"]
    assert ok["request_id"] == good.headers["X-Request-ID"] != "req-1"  # the service's own, unique id
    assert ok["outcome"] == "ok" and ok["status_code"] == 200 and ok["route"] == "/v1/detect"
    assert ok["image_sha256"] == good.json()["image"]["sha256"]
    assert ok["image_bytes"] == len(samples.png()) and (ok["image_width"], ok["image_height"]) == (96, 80)
    assert ok["model_sha256"] == "ab" * 32 and ok["threshold"] == 0.25
    assert ok["detection_count"] == 1 and json.loads(ok["detections"])[0]["class_name"] == "fractured"
    assert ok["image_data"] is None and ok["time"] is not None and ok["duration_ms"] > 0
    assert rows["req-2"]["outcome"] == "invalid_image" and rows["req-2"]["status_code"] == 422
    assert rows["req-3"]["outcome"] == "invalid_request"


def test_audit_stores_pixels_only_when_enabled(client_for, samples):
    client = client_for(audit_store_pixels=True)
    client.post("/v1/detect", files={"file": samples.png()})
    (row,) = client.app.state.service.audit.rows()
    assert row["image_data"] == samples.png()


def test_audit_probes_are_not_audited(client):
    client.get("/healthz")
    client.get("/metrics")
    assert client.app.state.service.audit.rows() == []


def test_audit_log_survives_reopening(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    log = AuditLog(url)
    log.write(AuditEntry(request_id="r1", route="/v1/detect", status_code=200))
    log.close()
    assert [r["request_id"] for r in AuditLog(url).rows()] == ["r1"]
