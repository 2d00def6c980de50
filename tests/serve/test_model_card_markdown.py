"""GET /v1/model/card: the readable MODEL_CARD.md beside the served model, and the UI's clients reading it."""

from __future__ import annotations

from pathlib import Path

from bonefrac.ui.client import HttpClient

KEY = "ui-card-key-1234567890"
CARD_TEXT = "# Model card: scripted 1\n\nSensitivity 0.69 on the test split.\n"


def test_the_readable_card_is_served_as_markdown(client_for, tmp_path: Path):
    model = tmp_path / "model" / "model.onnx"
    model.parent.mkdir()
    (model.parent / "MODEL_CARD.md").write_text(CARD_TEXT, encoding="utf-8")
    client = client_for(model_path=model)
    response = client.get("/v1/model/card")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.text == CARD_TEXT
    assert HttpClient(str(client.base_url), http=client).model_card_markdown() == CARD_TEXT


def test_without_a_readable_card_the_route_says_so_and_the_ui_shows_none(client_for, tmp_path: Path):
    client = client_for(model_path=tmp_path / "bare" / "model.onnx")
    response = client.get("/v1/model/card")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_model_card"
    assert HttpClient(str(client.base_url), http=client).model_card_markdown() is None


def test_the_readable_card_needs_the_api_key_like_every_model_route(client_for, tmp_path: Path):
    client = client_for(model_path=tmp_path / "model.onnx", env="production", api_keys=KEY)
    assert client.get("/v1/model/card").status_code == 401
