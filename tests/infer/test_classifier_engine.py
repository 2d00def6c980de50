"""The classifier engine refuses files that are not what its card says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bonefrac.card.classifier import read_classifier_card
from bonefrac.errors import ModelError
from bonefrac.infer.classifier import FractureClassifier

pytestmark = pytest.mark.slow


def _copy(model: Path, folder: Path) -> Path:
    folder.mkdir()
    target = folder / model.name
    shutil.copyfile(model, target)
    shutil.copyfile(model.parent / "classifier_card.json", folder / "classifier_card.json")
    return target


def test_engine_describes_itself(tiny_classifier_onnx: Path) -> None:
    engine = FractureClassifier(tiny_classifier_onnx, threads=1)
    facts = engine.describe()
    assert facts["input_size"] == 64 and facts["sha256"] == engine.card.weights_sha256


def test_engine_refuses_a_card_of_another_file(tiny_classifier_onnx: Path, tmp_path: Path) -> None:
    model = _copy(tiny_classifier_onnx, tmp_path / "m")
    card = json.loads((model.parent / "classifier_card.json").read_text())
    card["weights_sha256"] = "0" * 64
    (model.parent / "classifier_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="does not match its card"):
        FractureClassifier(model)


def test_engine_refuses_a_wrong_input_size(tiny_classifier_onnx: Path, tmp_path: Path) -> None:
    model = _copy(tiny_classifier_onnx, tmp_path / "m")
    card = json.loads((model.parent / "classifier_card.json").read_text())
    card["input_size"] = 128
    card["weights_sha256"] = None
    (model.parent / "classifier_card.json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="input size 128"):
        FractureClassifier(model)


def test_engine_needs_its_card(tiny_classifier_onnx: Path, tmp_path: Path) -> None:
    model = _copy(tiny_classifier_onnx, tmp_path / "m")
    (model.parent / "classifier_card.json").unlink()
    with pytest.raises(ModelError, match="classifier card not found"):
        FractureClassifier(model)


def test_card_reader_names_a_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "classifier_card.json"
    path.write_text(json.dumps({"name": "x", "version": "1", "input_size": 64, "colour": "red"}))
    with pytest.raises(ModelError, match="invalid"):
        read_classifier_card(path)
