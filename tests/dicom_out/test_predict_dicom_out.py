"""`bonefrac predict --dicom-out`: the shipped model's findings on DICOM inputs, as DICOM results."""

import json
from pathlib import Path

import numpy as np
import pytest
from dicom_sources import write_dx
from PIL import Image
from pydicom import dcmread
from typer.testing import CliRunner

from bonefrac.cli import app
from bonefrac.dicom_out.report import read_report

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "deploy" / "model" / "model.onnx"
runner = CliRunner()


@pytest.fixture
def scans(tmp_path):
    folder = tmp_path / "scans"
    first = write_dx(folder / "a1.dcm", seed=3, size=320)
    write_dx(folder / "a2.dcm", seed=4, size=320, study_uid=str(first.StudyInstanceUID))
    write_dx(folder / "b1.dcm", seed=5, size=320, patient_id="MRN-0002")
    pixels = np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "plain.png")
    return folder


def test_each_dicom_input_gets_a_report_and_a_capture_in_its_own_study(scans, tmp_path, dciodvfy):
    out, dicom_out = tmp_path / "out", tmp_path / "dicom"
    result = runner.invoke(
        app,
        [
            "predict",
            str(scans),
            "--weights",
            str(SHIPPED_MODEL),
            "--out",
            str(out),
            "--dicom-out",
            str(dicom_out),
        ],
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps long lines
    assert "DICOM results for 3 DICOM image(s)" in said and "1 input(s) not DICOM" in said
    assert sorted(p.name for p in dicom_out.iterdir()) == [
        f"{stem}.{kind}.dcm" for stem in ("a1", "a2", "b1") for kind in ("sc", "sr")
    ]
    series = {}
    for stem in ("a1", "a2", "b1"):
        source = dcmread(scans / f"{stem}.dcm")
        report, capture = dcmread(dicom_out / f"{stem}.sr.dcm"), dcmread(dicom_out / f"{stem}.sc.dcm")
        for made in (report, capture):
            assert made.StudyInstanceUID == source.StudyInstanceUID and made.PatientID == source.PatientID
            assert dciodvfy(dicom_out / f"{stem}.{'sr' if made is report else 'sc'}.dcm") == []
        assert capture.pixel_array.shape == (320, 320, 3)
        series[stem] = (report.SeriesInstanceUID, capture.SeriesInstanceUID)
        answer = json.loads((out / f"{stem}.json").read_text())
        read = read_report(report)
        assert read.call == answer["image"]["call"]
        assert [b.confidence for b in read.boxes] == pytest.approx(
            [d["confidence"] for d in answer["detections"]]
        )
        assert [b.xyxy for b in read.boxes] == [pytest.approx(tuple(d["xyxy"])) for d in answer["detections"]]
        assert all(b.referenced_sop_instance_uid == source.SOPInstanceUID for b in read.boxes)
    assert series["a1"] == series["a2"] and series["a1"] != series["b1"]  # one pair of series per study


def test_without_the_capture_only_reports_are_written(scans, tmp_path):
    dicom_out = tmp_path / "dicom"
    result = runner.invoke(
        app,
        ["predict", str(scans / "a1.dcm"), "--weights", str(SHIPPED_MODEL), "--out", str(tmp_path / "out"),
         "--dicom-out", str(dicom_out), "--no-dicom-capture", "--no-images"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [p.name for p in dicom_out.iterdir()] == ["a1.sr.dcm"]


def test_a_dicom_file_without_a_study_uid_fails_alone_and_says_why(scans, tmp_path):
    broken = dcmread(scans / "b1.dcm")
    del broken.StudyInstanceUID
    broken.save_as(scans / "b1.dcm", enforce_file_format=True)
    result = runner.invoke(
        app,
        ["predict", str(scans), "--weights", str(SHIPPED_MODEL), "--out", str(tmp_path / "out"),
         "--dicom-out", str(tmp_path / "dicom")],
    )  # fmt: skip
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "StudyInstanceUID" in said and "DICOM results for 2 DICOM image(s)" in said
