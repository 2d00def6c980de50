import json

import pytest

from bonefrac.card.record import ModelCard, OperatingPoint, card_path_for, read_model_card, write_model_card
from bonefrac.errors import ModelError


def test_model_card_round_trip(tmp_path):
    card = ModelCard(
        name="m",
        version="1",
        class_names=["fractured"],
        input_size=640,
        operating_point=OperatingPoint(threshold=0.3, rule="max_f1", split="val"),
    )
    path = write_model_card(card, card_path_for(tmp_path / "model.onnx"))
    assert path.name == "model_card.json"
    assert read_model_card(path) == card


def test_model_card_typo_is_refused(tmp_path):
    path = tmp_path / "model_card.json"
    path.write_text(
        json.dumps({"name": "m", "version": "1", "class_names": ["a"], "input_size": 64, "treshold": 1})
    )
    with pytest.raises(ModelError, match="treshold"):
        read_model_card(path)


def test_model_card_missing_file(tmp_path):
    with pytest.raises(ModelError, match="model card not found"):
        read_model_card(tmp_path / "model_card.json")
