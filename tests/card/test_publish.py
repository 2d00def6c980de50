"""`bonefrac model-card`: MODEL_CARD.md and the card's test summary come from real evaluations of the files
they describe (a tiny exported model evaluated on the synthetic set)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bonefrac.card.markdown import FRACATLAS_CREDIT
from bonefrac.card.publish import CardEvalSummary, publish_model_card
from bonefrac.card.record import read_model_card, write_model_card
from bonefrac.card.references import load_reference_results
from bonefrac.card.text import fmt
from bonefrac.errors import EvaluationError, ModelError
from bonefrac.evaluate.eval_file import read_eval_report, write_eval_report
from bonefrac.evaluate.runner import EvaluateOptions, run_evaluation
from bonefrac.hashing import file_sha256


@pytest.fixture(scope="module")
def evaluated_model(tmp_path_factory, tiny_onnx_model, synthetic_dataset):
    """A model folder whose card got its operating point on val, plus a test eval at that point."""
    folder = tmp_path_factory.mktemp("shipped")
    model = folder / "model.onnx"
    shutil.copyfile(tiny_onnx_model, model)
    common = dict(weights=model, data=synthetic_dataset, bootstrap=50, conf_floor=0.001, report=False)
    run_evaluation(
        EvaluateOptions(split="val", rule="max-f1", write_card=True, out=folder / "eval-val", **common)
    )
    run_evaluation(EvaluateOptions(split="test", rule="card", out=folder / "eval-test", **common))
    return folder


def test_publish_folds_test_numbers_into_both_cards(evaluated_model, tmp_path, run_folder):
    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    test_eval = folder / "eval-test" / "eval.json"
    published = publish_model_card(
        folder,
        test_eval,
        val_eval=folder / "eval-val" / "eval.json",
        run_dir=run_folder(tmp_path / "run"),
        name="bonefrac-test",
        version="9.9",
        references=load_reference_results().references,
    )
    test = read_eval_report(test_eval)
    card = read_model_card(published.card_path)
    assert (card.name, card.version) == ("bonefrac-test", "9.9")
    summary = CardEvalSummary.model_validate(card.metrics["test"])  # keyed as eval.json: map50, ...
    assert summary.map50 == test.box.map50 and summary.images == test.counts.images
    assert summary.fractured_only.map50 == test.box_fractured_only.map50
    assert summary.fractured_only.images == test.counts.positive_images
    assert card.data_credit == FRACATLAS_CREDIT and card.limitations
    text = published.markdown_path.read_text(encoding="utf-8")
    assert "Not a medical device" in text and "Scientific Data 10, 521" in text
    assert f"| Box mAP50 | {fmt(test.box.map50)} |" in text
    assert f"| Box mAP50, fractured test images only ({test.box_fractured_only.images}; " in text
    assert f"the FracAtlas paper's test set) | {fmt(test.box_fractured_only.map50)} |" in text
    assert card.weights_sha256 in text and f"{card.operating_point.threshold:.4f}" in text
    assert "574 fracture images plus 268 background images" in text and "**cpu**" in text
    assert "| mAP50 0.103, mAP50-95 0.034, precision 0.300, recall 0.200 |" in text  # the anchor
    assert any("Trained on CPU only" in line for line in card.limitations)


def test_publish_refuses_an_evaluation_of_another_model(evaluated_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    result = read_eval_report(folder / "eval-test" / "eval.json")
    other = write_eval_report(
        result.model_copy(update={"model": result.model.model_copy(update={"sha256": "f" * 64})}),
        tmp_path / "other.json",
    )
    with pytest.raises(ModelError, match="evaluate the shipped file again"):
        publish_model_card(folder, other)
    assert not (folder / "MODEL_CARD.md").exists()


def test_publish_refuses_a_test_run_at_another_threshold(evaluated_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    result = read_eval_report(folder / "eval-test" / "eval.json")
    point = result.operating_point
    moved = write_eval_report(
        result.model_copy(
            update={"operating_point": point.model_copy(update={"threshold": point.threshold + 0.1})}
        ),
        tmp_path / "moved.json",
    )
    with pytest.raises(ModelError, match="--rule card"):
        publish_model_card(folder, moved)


def test_publish_refuses_an_old_eval_json_naming_both_formats(evaluated_model, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    old = tmp_path / "eval.json"
    old.write_text(json.dumps({"format": "bonefrac.eval/1", "box": {}}), encoding="utf-8")
    with pytest.raises(EvaluationError, match="'bonefrac.eval/1'.*older bonefrac.*'bonefrac.eval/2'"):
        publish_model_card(folder, old)


def _with_int8(folder: Path, tmp_path: Path, int8_map50_drop: float, int8_auroc_drop: float = 0.0) -> Path:
    """Give the folder an 'int8' file named in the card and a test eval of it with mAP50 and AUROC lowered."""
    int8 = folder / "model.int8.onnx"
    shutil.copyfile(folder / "model.onnx", int8)
    int8.write_bytes(int8.read_bytes() + b"\0")  # another sha256
    card = read_model_card(folder / "model_card.json")
    digest = file_sha256(int8)
    write_model_card(
        card.model_copy(update={"quantization": {"file": int8.name, "sha256": digest}}),
        folder / "model_card.json",
    )
    result = read_eval_report(folder / "eval-test" / "eval.json")
    lowered = result.box.map50.model_copy(update={"value": result.box.map50.value - int8_map50_drop})
    auroc = result.image.auroc.model_copy(update={"value": result.image.auroc.value - int8_auroc_drop})
    int8_result = result.model_copy(
        update={
            "model": result.model.model_copy(update={"sha256": digest}),
            "box": result.box.model_copy(update={"map50": lowered}),
            "image": result.image.model_copy(update={"auroc": auroc}),
        }
    )
    return write_eval_report(int8_result, tmp_path / "int8-eval.json")


@pytest.mark.parametrize(
    ("map50_drop", "auroc_drop", "kept"), [(0.0, 0.0, True), (0.05, 0.0, False), (0.0, 0.02, False)]
)
def test_int8_is_kept_only_when_it_keeps_map50_and_auroc(
    evaluated_model, tmp_path, map50_drop, auroc_drop, kept
):
    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    int8_eval = _with_int8(folder, tmp_path, map50_drop, auroc_drop)
    published = publish_model_card(folder, folder / "eval-test" / "eval.json", int8_test_eval=int8_eval)
    assert published.card.quantization["shipped"] is kept
    assert (folder / "model.int8.onnx").exists() is kept
    assert ("not shipped" in published.markdown_path.read_text(encoding="utf-8")) is not kept
    assert "test_int8" in published.card.metrics
    assert "image AUROC" in published.card.quantization["decision"]


def test_model_card_command_with_references_from_a_file(evaluated_model, tmp_path):
    from typer.testing import CliRunner

    from bonefrac.cli import app

    folder = tmp_path / "model"
    shutil.copytree(evaluated_model, folder)
    references = tmp_path / "refs.yaml"
    references.write_text(
        "references:\n"
        "  - {key: mine, model: My detector, source: my lab notes, level: box, images: fractured_only,\n"
        "     measured_by: me, metrics: {map50: 0.25}}\n",
        encoding="utf-8",
    )
    args = ["model-card", str(folder), "--test-eval", str(folder / "eval-test" / "eval.json")]
    result = CliRunner().invoke(app, [*args, "--references-file", str(references)])
    assert result.exit_code == 0, result.output
    assert "int8" not in result.output  # no int8 evaluation given: nothing to decide
    test = read_eval_report(folder / "eval-test" / "eval.json")
    text = (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Compared with reference results" in text
    assert f"| mAP50 0.250 | mAP50 {fmt(test.box_fractured_only.map50)} |" in text
    assert "issue 8" not in text  # only the file's references

    plain = CliRunner().invoke(app, args)
    assert plain.exit_code == 0, plain.output
    assert "Compared with" not in (folder / "MODEL_CARD.md").read_text(encoding="utf-8")
