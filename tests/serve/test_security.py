"""API keys: required in production (which refuses to start without them), checked when configured."""

from __future__ import annotations

import pytest

from bonefrac.errors import ConfigError
from bonefrac.serve.app import create_app

KEY = "unit-test-key-123"


def test_security_production_refuses_to_start_without_keys(settings_for):
    with pytest.raises(ConfigError, match="BONEFRAC_API_KEYS"):
        create_app(settings_for(env="production"), engine=object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({}, 401, "missing"),
        ({"X-API-Key": "wrong-key-000"}, 401, "not valid"),
        ({"X-API-Key": KEY}, 200, ""),
    ],
    ids=["missing", "wrong", "right"],
)
@pytest.mark.parametrize("route", ["/v1/detect", "/v1/detect/annotated"])
def test_security_production_requires_a_valid_key(client_for, samples, route, headers, status, words):
    client = client_for(env="production", api_keys=f"ward7:{KEY}")
    response = client.post(route, files={"file": samples.png()}, headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.json()["error"]["code"] == "unauthorized"
        assert (
            words in response.json()["error"]["message"]
            and "X-API-Key" in response.json()["error"]["message"]
        )
        assert response.headers["WWW-Authenticate"] == "ApiKey"


def test_security_probes_stay_open_and_model_needs_a_key(client_for):
    client = client_for(env="production", api_keys=KEY)
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/v1/model").status_code == 401
    assert client.get("/v1/model", headers={"X-API-Key": KEY}).status_code == 200


def test_security_key_id_is_audited_never_the_key(client_for, samples):
    client = client_for(env="production", api_keys=f"ward7:{KEY},{KEY}-other")
    client.post("/v1/detect", files={"file": samples.png()}, headers={"X-API-Key": KEY})
    client.post("/v1/detect", files={"file": samples.png()}, headers={"X-API-Key": KEY + "-other"})
    rows = client.app.state.service.audit.rows()
    assert rows[0]["client_key_id"] == "ward7"
    assert rows[1]["client_key_id"].startswith("key-") and KEY not in rows[1]["client_key_id"]


def test_security_custom_header_name(client_for, samples):
    client = client_for(api_keys=KEY, api_key_header="Authorization-Key")
    assert client.post("/v1/detect", files={"file": samples.png()}).status_code == 401
    ok = client.post("/v1/detect", files={"file": samples.png()}, headers={"Authorization-Key": KEY})
    assert ok.status_code == 200
