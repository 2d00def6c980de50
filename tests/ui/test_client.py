"""bonefrac.ui.client without a model: error translation, retries, and parsing of the service's answers."""

from __future__ import annotations

import io
import socket

import httpx
import numpy as np
import pytest
from PIL import Image

from bonefrac.card.record import ModelCard
from bonefrac.errors import ModelError
from bonefrac.ui.client import (
    HttpClient,
    ServiceError,
    detections_from_response,
    make_client,
    plain_words,
    tiers_from_response,
)

CARD = {"name": "tiny", "version": "1", "class_names": ["fractured"], "input_size": 64}


def _client(handler, **kwargs) -> HttpClient:
    http = httpx.Client(base_url="http://service.test", transport=httpx.MockTransport(handler))
    return HttpClient("http://service.test", http=http, **kwargs)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    body = {"error": {"code": code, "message": message}, "request_id": "req-1"}
    return lambda request: httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (401, "unauthorized", "missing X-API-Key header", "needs a valid API key"),
        (403, "forbidden", "unknown API key", "BONEFRAC_API_KEY"),
        (413, "upload_too_large", "the body exceeds 20971520 bytes", "too large"),
        (415, "unsupported_media_type", "not an image: expected PNG, JPEG or DICOM", "could not use this"),
        (422, "invalid_image", "the image is truncated", "the image is truncated"),
        (503, "overloaded", "the queue is full", "Try again in 3 s"),
        (500, "internal_error", "unexpected server error; see the logs", "failed on this request"),
        (404, "not_found", "Not Found", "Is the URL a bonefrac service?"),
    ],
)
def test_http_client_translates_service_errors(status, code, message, expected):
    client = _client(_error(status, code, message, {"Retry-After": "3"}))
    with pytest.raises(ServiceError) as info:
        client.analyze(b"bytes", "x.png", 0.25)
    assert expected in info.value.plain
    assert info.value.status == status
    assert info.value.code == code
    assert info.value.request_id == "req-1"


def test_plain_words_without_json_body_names_the_status():
    expected = "The service failed on this request (HTTP 502). Its logs say more."
    assert plain_words(502, None, "http://s") == expected


def test_http_client_unreachable_service_says_so():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpClient(f"http://127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(ServiceError, match=r"Cannot reach the service at http://127\.0\.0\.1:\d+"):
        client.model_card()


def test_http_client_timeout_says_so():
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ServiceError, match="did not answer in time"):
        _client(handler).model_card()


def test_http_client_wait_until_ready_retries_until_ready():
    calls = []

    def handler(request):
        calls.append(request.url.path)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) < 5:
            return httpx.Response(503, json={"error": {"code": "not_ready", "message": "warming up"}})
        return httpx.Response(200, json={"ready": True, "status": "ready"})

    _client(handler).wait_until_ready(timeout_s=30, interval_s=0.01)
    assert calls == ["/readyz"] * 5


def test_http_client_wait_until_ready_gives_up_with_last_reason():
    def handler(request):
        return httpx.Response(503, json={"error": {"code": "not_ready", "message": "model still loading"}})

    with pytest.raises(ServiceError, match="was not ready after 0 s.*model still loading"):
        _client(handler).wait_until_ready(timeout_s=0.05, interval_s=0.01)


def test_http_client_sends_api_key_and_reads_wrapped_card():
    seen = {}

    def handler(request):
        seen["key"] = request.headers.get("X-API-Key")
        return httpx.Response(200, json={"sha256": "ab" * 32, "card": CARD})

    client = _client(handler, api_key="secret-key-1")
    card = client.model_card()
    assert card == ModelCard.model_validate(CARD)
    assert seen["key"] == "secret-key-1"


def test_http_client_rejects_card_that_is_not_a_card():
    client = _client(lambda request: httpx.Response(200, json={"card": {"name": "x"}}))
    with pytest.raises(ServiceError, match="model card could not be read"):
        client.model_card()


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_http_client_threshold_out_of_range_is_refused_before_sending(threshold):
    def handler(request):
        raise AssertionError("no request may be sent")

    with pytest.raises(ServiceError, match="between 0 and 1"):
        _client(handler).analyze(b"x", "x.png", threshold)


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://host", ""])
def test_http_client_rejects_url_without_scheme(url):
    with pytest.raises(ServiceError, match="must start with http:// or https://"):
        HttpClient(url)


def test_detections_from_response_reads_boxes():
    response = {
        "detections": [
            {"xyxy": [1, 2, 11, 22], "confidence": 0.9, "class_id": 0, "class_name": "fractured"},
            {"xyxy": [5, 5, 6, 8], "confidence": 0.3, "class_id": 0, "class_name": "fractured"},
        ]
    }
    detections = detections_from_response(response, ("fractured",))
    assert len(detections) == 2
    np.testing.assert_allclose(detections.xyxy[0], [1, 2, 11, 22])
    np.testing.assert_allclose(detections.confidence, [0.9, 0.3])


@pytest.mark.parametrize(
    ("response", "match"),
    [
        ({}, "without a list of detections"),
        ({"detections": [{"xyxy": [1, 2, 3], "confidence": 0.5, "class_id": 0}]}, "could not be read"),
        ({"detections": [{"confidence": 0.5, "class_id": 0}]}, "could not be read"),
        ({"detections": [{"xyxy": [1, 2, 3, 4], "confidence": 0.5, "class_id": 3}]}, "could not be read"),
    ],
)
def test_detections_from_response_malformed(response, match):
    with pytest.raises(ServiceError, match=match):
        detections_from_response(response, ("fractured",))


def test_tiers_from_response_reads_each_boxs_tier():
    response = {"detections": [{"tier": "high_specificity"}, {"tier": "high_sensitivity"}]}
    assert tiers_from_response(response) == ("high_specificity", "high_sensitivity")
    assert tiers_from_response({"detections": [{"confidence": 0.5}]}) == (
        "high_specificity",
    )  # older service
    with pytest.raises(ServiceError, match="box tiers \\['dotted'\\]"):
        tiers_from_response({"detections": [{"tier": "dotted"}]})


def test_http_client_sends_no_threshold_at_the_models_operating_points():
    sent = []

    def handler(request):
        if request.url.path == "/v1/model":
            return httpx.Response(200, json={"sha256": "ab" * 32, "card": CARD})
        sent.append(request.content)
        answer = {"threshold": 0.25, "detections": [], "image": {"call": "negative"}}
        return httpx.Response(200, json=answer)

    client = _client(handler)
    buffer = io.BytesIO()
    Image.fromarray(np.full((20, 30), 100, np.uint8)).save(buffer, format="PNG")
    default = client.analyze(buffer.getvalue(), "x.png", None)
    lowered = client.analyze(buffer.getvalue(), "x.png", 0.1)
    assert b'name="threshold"' not in sent[0] and b'name="threshold"' in sent[1]
    assert (
        default.threshold == 0.25
        and default.box_tiers == ()
        and lowered.response["image"]["call"] == "negative"
    )


def test_make_client_prefers_url_over_model(monkeypatch, tmp_path):
    monkeypatch.delenv("BONEFRAC_API_URL", raising=False)
    client = make_client("http://127.0.0.1:1", tmp_path / "missing.onnx")
    assert isinstance(client, HttpClient)
    assert client.where == "http://127.0.0.1:1"


def test_make_client_reads_url_from_environment(monkeypatch):
    monkeypatch.setenv("BONEFRAC_API_URL", "http://127.0.0.1:2/")
    assert make_client().where == "http://127.0.0.1:2"


def test_make_client_without_url_or_model_explains(monkeypatch):
    monkeypatch.delenv("BONEFRAC_API_URL", raising=False)
    monkeypatch.delenv("BONEFRAC_MODEL_PATH", raising=False)
    with pytest.raises(ModelError, match="--api-url .* --model"):
        make_client()


def test_make_client_missing_model_file(monkeypatch, tmp_path):
    monkeypatch.delenv("BONEFRAC_API_URL", raising=False)
    with pytest.raises(ModelError, match="model file not found"):
        make_client(model_path=tmp_path / "nope.onnx")
