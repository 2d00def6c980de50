"""`bonefrac quantize`: the sensitive modules stay in float, int8 is kept only when it keeps its accuracy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bonefrac.card.record import read_model_card
from bonefrac.cli import app
from bonefrac.errors import ExportError
from bonefrac.export.int8_release import release_int8
from bonefrac.export.quantize import ModuleSensitivity, quantize_mixed_int8, sensitive_modules
from bonefrac.export.samples import synthetic_samples
from bonefrac.hashing import file_sha256

pytest.importorskip("onnx")

runner = CliRunner()


def test_sensitive_modules_are_those_that_alone_move_a_quarter_of_the_whole():
    measured = [
        ModuleSensitivity("all", 0.04),
        ModuleSensitivity("model.1", 0.02),
        ModuleSensitivity("model.0", 0.01),
        ModuleSensitivity("model.7", 0.009),
    ]
    assert sensitive_modules(measured) == ["model.1", "model.0"]
    assert sensitive_modules(measured, share=0.6) == []
    assert sensitive_modules([ModuleSensitivity("all", 0.0), ModuleSensitivity("model.0", 0.0)]) == []


def _weights_of_convs(path: Path) -> dict[str, str]:
    """Each Conv node -> the op that feeds its weight ('initializer' when it is a float constant)."""
    import onnx

    graph = onnx.load(str(path)).graph
    producer = {out: node.op_type for node in graph.node for out in node.output}
    return {n.name: producer.get(n.input[1], "initializer") for n in graph.node if n.op_type == "Conv"}


def test_mixed_int8_keeps_the_chosen_modules_in_float_and_quantizes_the_rest(tiny_onnx_model, tmp_path):
    images = [image for _, image in synthetic_samples(4)]
    mixed = quantize_mixed_int8(tiny_onnx_model, tmp_path / "model.int8.onnx", images, images[:2], 64)
    assert mixed.sensitivities[0].module == "all"
    changes = [m.score_change for m in mixed.sensitivities[1:]]
    assert changes == sorted(changes, reverse=True)
    assert list(mixed.float_modules) == sensitive_modules(mixed.sensitivities)
    assert mixed.summary()["float_modules"] == list(mixed.float_modules)
    feeds = _weights_of_convs(mixed.path)
    assert any(feed == "DequantizeLinear" for feed in feeds.values()), "nothing was quantized"
    for module in mixed.float_modules:
        inside = [feed for name, feed in feeds.items() if name.startswith(f"/{module}/")]
        assert inside and all(feed != "DequantizeLinear" for feed in inside), module


@pytest.mark.slow
@pytest.mark.parametrize("max_drop", [1.0, 0.0])
def test_quantize_keeps_int8_only_when_it_keeps_accuracy(shipped_folder, synthetic_dataset, max_drop):
    release = release_int8(
        shipped_folder / "model.onnx",
        synthetic_dataset,
        calibration_count=4,
        probe_count=2,
        split="val",
        max_drop=max_drop,
        bootstrap=0,
    )
    fp32, int8 = release.fp32_eval, release.int8_eval
    drops = (fp32.box.map50.value - int8.box.map50.value, fp32.image.auroc.value - int8.image.auroc.value)
    assert release.kept is all(drop <= max_drop for drop in drops)
    assert (shipped_folder / "model.int8.onnx").exists() is release.kept
    card = read_model_card(shipped_folder / "model_card.json")
    assert card.quantization["shipped"] is release.kept
    assert card.quantization["float_modules"] == list(release.mixed.float_modules)
    assert "image AUROC" in card.quantization["decision"]
    assert card.metrics["val_int8"]["images"] == int8.counts.images
    if release.kept:
        assert card.quantization["sha256"] == file_sha256(shipped_folder / "model.int8.onnx")
    assert int8.model.sha256 == card.quantization["sha256"]


def test_quantize_refuses_a_model_without_a_card(tiny_onnx_model, synthetic_dataset, tmp_path):
    lone = tmp_path / "model.onnx"
    shutil.copyfile(tiny_onnx_model, lone)
    with pytest.raises(ExportError, match="no model_card.json beside it"):
        release_int8(lone, synthetic_dataset)


@pytest.mark.slow
def test_quantize_command_says_what_it_kept(shipped_folder, synthetic_dataset):
    args = ["quantize", "--model", str(shipped_folder / "model.onnx"), "--data", str(synthetic_dataset)]
    result = runner.invoke(app, [*args, "--split", "val", "--calibration-count", "4", "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "modules kept in float:" in result.output
    kept = (shipped_folder / "model.int8.onnx").exists()
    assert ("keeps its accuracy" in result.output) is kept
    assert ("model.int8.onnx removed" in " ".join(result.output.split())) is not kept
