"""Preferring int8 loads the shipped int8 copy only when the card ships it and names its sha256."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bonefrac.card.record import ModelCard, OperatingPoint, read_model_card, write_model_card
from bonefrac.hashing import file_sha256
from bonefrac.infer.int8_choice import detector_file


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"fp32 graph")
    (folder / "model.int8.onnx").write_bytes(b"int8 graph")
    point = OperatingPoint(threshold=0.2, rule="max_f1", split="val", sensitivity=0.8, specificity=0.8)
    card = ModelCard(
        name="m",
        version="1",
        class_names=["fractured"],
        input_size=64,
        operating_point=point,
        quantization={"shipped": True, "sha256": file_sha256(folder / "model.int8.onnx"), "decision": "kept"},
    )
    write_model_card(card, folder / "model_card.json")
    return folder


def _set_quantization(folder: Path, **changes: object) -> None:
    card = read_model_card(folder / "model_card.json")
    quantization = {**(card.quantization or {}), **changes}
    write_model_card(card.model_copy(update={"quantization": quantization}), folder / "model_card.json")


def test_the_shipped_int8_copy_is_chosen(folder):
    path, why = detector_file(folder / "model.onnx", prefer_int8=True)
    assert path == folder / "model.int8.onnx" and "shipped by the card" in why


def test_float32_unless_int8_is_preferred(folder):
    assert detector_file(folder / "model.onnx", prefer_int8=False)[0] == folder / "model.onnx"


def test_an_int8_copy_the_card_did_not_ship_is_not_used(folder):
    _set_quantization(folder, shipped=False)
    path, why = detector_file(folder / "model.onnx", prefer_int8=True)
    assert path == folder / "model.onnx" and "did not keep its accuracy" in why


def test_a_changed_int8_file_is_not_used(folder):
    (folder / "model.int8.onnx").write_bytes(b"another int8 graph")
    path, why = detector_file(folder / "model.onnx", prefer_int8=True)
    assert path == folder / "model.onnx" and "not the file the card measured" in why


def test_a_folder_without_the_copy_or_the_card_serves_the_model(folder, tmp_path):
    (folder / "model.int8.onnx").unlink()
    path, why = detector_file(folder / "model.onnx", prefer_int8=True)
    assert path == folder / "model.onnx" and "missing" in why
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copyfile(folder / "model.onnx", lone / "model.onnx")
    path, why = detector_file(lone / "model.onnx", prefer_int8=True)
    assert path == lone / "model.onnx" and "no card" in why
