import json
import sys

import pytest
from typer.testing import CliRunner

from bonefrac.cli import app, main

runner = CliRunner()


def test_data_check_exits_1_on_errors_and_writes_json(faulty_dataset, tmp_path):
    report = tmp_path / "out" / "report.json"
    result = runner.invoke(app, ["data", "check", str(faulty_dataset.yaml_path), "--json", str(report)])
    assert result.exit_code == 1, result.output
    assert "truncated_image" in result.output and "cross_split_duplicate" in result.output
    assert json.loads(report.read_text())["summary"]["errors"] == 5


def test_data_check_exits_0_on_a_clean_set_and_strict_counts_warnings(synthetic_dataset, tmp_path):
    result = runner.invoke(app, ["data", "check", str(synthetic_dataset), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output
    # a warning-only data set: one orphan label
    root = synthetic_dataset.parent
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(root, copy)
    (copy / "labels" / "train" / "lost.txt").write_text("")
    assert runner.invoke(app, ["data", "check", str(copy / "data.yaml")]).exit_code == 0
    assert runner.invoke(app, ["data", "check", str(copy / "data.yaml"), "--strict"]).exit_code == 1


def test_data_check_exits_2_when_the_data_set_cannot_be_read(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["bonefrac", "data", "check", str(tmp_path / "absent.yaml")])
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2 and "data.yaml not found" in capsys.readouterr().err


def test_data_subset_command_writes_a_loadable_subset(two_class_dataset, tmp_path):
    out = tmp_path / "sub"
    args = ["data", "subset", str(two_class_dataset), "--out", str(out), "--drop-class", "No_fracture"]
    result = runner.invoke(app, [*args, "--positive-only"])
    assert result.exit_code == 0, result.output
    assert (out / "data.yaml").is_file() and (out / "train.txt").read_text().startswith("./images/train/")
    assert json.loads((out / "subset.json").read_text())["splits"]["train"]["images"] == 2


def test_data_subset_command_rejects_an_unknown_class(two_class_dataset, tmp_path, monkeypatch, capsys):
    argv = [
        "bonefrac",
        "data",
        "subset",
        str(two_class_dataset),
        "--out",
        str(tmp_path / "s"),
        "--drop-class",
        "x",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2 and "'x' is not a class" in capsys.readouterr().err


def test_data_split_command_groups_by_regex_and_its_result_checks_clean(tmp_path):
    from data_helpers import write_roboflow_export

    yaml_path = write_roboflow_export(tmp_path / "rf", families=6)
    out = tmp_path / "split"
    args = ["data", "split", str(yaml_path), "--out", str(out), "--group-by", "regex"]
    args += ["--pattern", r"(.*)\.rf\.[0-9a-f]+", "--val", "0.2", "--test", "0.2", "--seed", "3"]
    result = runner.invoke(app, [*args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "6 groups by regex" in result.output and "split.json" in result.output
    record = json.loads((out / "split.json").read_text())
    assert record["seed"] == 3 and record["fractions"] == {"val": 0.2, "test": 0.2}
    assert record["grouping"]["method"] == "regex" and record["grouping"]["group_sizes"] == {"3": 6}
    check = runner.invoke(app, ["data", "check", str(out / "data.yaml"), "--workers", "1"])
    assert check.exit_code == 0 and "0 errors" in check.output and "cross_split" not in check.output


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--group-by", "regex", "--pattern", "(unclosed"], "is not a valid regular expression"),
        (["--folds", "3", "--val", "0.2"], "does not apply with folds"),
        (["--val", "0.6", "--test", "0.4"], "val + test must be below 1"),
    ],
)
def test_data_split_command_rejects_bad_options(
    two_class_dataset, tmp_path, monkeypatch, capsys, extra, fragment
):
    argv = ["bonefrac", "data", "split", str(two_class_dataset), "--out", str(tmp_path / "s"), *extra]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2 and fragment in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_data_report_command_writes_html_and_json(synthetic_dataset, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    result = runner.invoke(
        app, ["data", "report", str(synthetic_dataset), "--out", str(out), "--samples", "3"]
    )
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert page.startswith("<!doctype html>") and page.count("data:image/jpeg") == 9  # 3 samples x 3 splits
    assert (out / "report.json").is_file()
