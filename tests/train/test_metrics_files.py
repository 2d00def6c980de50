import json

import pytest

from bonefrac.train.metrics_files import plain_metric_name, read_epoch_rows, write_epochs_jsonl


@pytest.mark.parametrize(
    ("column", "plain"),
    [
        ("metrics/mAP50-95(B)", "map50_95"),
        ("metrics/mAP50(B)", "map50"),
        ("metrics/precision(B)", "precision"),
        ("train/box_loss", "train_box_loss"),
        ("  lr/pg0", "lr_pg0"),
        ("epoch", "epoch"),
    ],
)
def test_plain_metric_name(column, plain):
    assert plain_metric_name(column) == plain


def test_read_epoch_rows_and_jsonl(tmp_path):
    csv_path = tmp_path / "results.csv"
    csv_path.write_text("epoch,time,metrics/mAP50(B),train/box_loss\n1,3.5,0.25,1.2\n2,7.0,0.5,1.0\n")
    rows = read_epoch_rows(csv_path)
    assert rows == [
        {"epoch": 1, "time": 3.5, "map50": 0.25, "train_box_loss": 1.2},
        {"epoch": 2, "time": 7.0, "map50": 0.5, "train_box_loss": 1.0},
    ]
    out = write_epochs_jsonl(rows, tmp_path / "epochs.jsonl")
    assert [json.loads(line)["epoch"] for line in out.read_text().splitlines()] == [1, 2]


def test_read_epoch_rows_missing_file_is_empty(tmp_path):
    assert read_epoch_rows(tmp_path / "none.csv") == []
