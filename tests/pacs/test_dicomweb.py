"""`bonefrac dicom process --dicomweb` against a real Orthanc with its DICOMweb plugin."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from dicom_sources import synthetic_dx
from pydicom import dcmread
from typer.testing import CliRunner

from bonefrac.cli import app
from bonefrac.dicom_out.report import read_report
from bonefrac.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "deploy" / "model" / "model.onnx"
runner = CliRunner()


def part10(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def process(orthanc, ledger: Path, *options: str):
    arguments = ["dicom", "process", "--dicomweb", orthanc.dicomweb_url, "--weights", str(SHIPPED_MODEL),
                 "--ledger", str(ledger), "--threads", "1", *options]  # fmt: skip
    result = runner.invoke(app, arguments)
    return result, " ".join(result.output.split())


def test_each_study_gets_its_results_once_whoever_runs_again(orthanc_factory, tmp_path, dciodvfy):
    orthanc = orthanc_factory({})
    first = synthetic_dx(seed=11, size=256)
    second = synthetic_dx(seed=12, size=256, study_uid=str(first.StudyInstanceUID))
    other = synthetic_dx(seed=13, size=256, patient_id="MRN-0002")
    for dataset in (first, second, other):
        orthanc.upload(part10(dataset))
    result, said = process(orthanc, tmp_path / "ledger.sqlite3")
    assert result.exit_code == 0, result.output
    assert said.count("radiograph(s)") == 2 and "2 radiograph(s), 4 result(s) stored" in said
    study = orthanc.study_instances(str(first.StudyInstanceUID))
    modalities = sorted(tags["Modality"] for tags in study)
    assert modalities == ["DX", "DX", "OT", "OT", "SR", "SR"]
    assert len({tags["SeriesInstanceUID"] for tags in study if tags["Modality"] == "SR"}) == 1
    references = set()
    for tags in study:
        if tags["Modality"] == "SR":
            path = tmp_path / f"{tags['ID']}.dcm"
            path.write_bytes(orthanc.file(tags["ID"]))
            assert dciodvfy(path) == []
            read = read_report(dcmread(path))
            references |= {box.referenced_sop_instance_uid for box in read.boxes}
    assert references <= {first.SOPInstanceUID, second.SOPInstanceUID}
    assert len(orthanc.study_instances(str(other.StudyInstanceUID))) == 3
    again, said = process(orthanc, tmp_path / "ledger.sqlite3")  # the same ledger
    assert again.exit_code == 0 and said.count("skipped (in the ledger (done))") == 2
    elsewhere, said = process(orthanc, tmp_path / "fresh.sqlite3")  # another machine, the same PACS
    assert elsewhere.exit_code == 0 and said.count("skipped (already holds bonefrac results)") == 2
    assert len(orthanc.study_instances(str(first.StudyInstanceUID))) == 6


def test_one_study_by_uid_with_basic_authentication(orthanc_factory, tmp_path):
    orthanc = orthanc_factory({}, users={"reader": "s3cret"})
    wanted, unwanted = synthetic_dx(seed=14, size=256), synthetic_dx(seed=15, size=256)
    for dataset in (wanted, unwanted):
        orthanc.upload(part10(dataset))
    study = str(wanted.StudyInstanceUID)
    command = [sys.executable, "-m", "bonefrac", "dicom", "process", "--dicomweb", orthanc.dicomweb_url,
               "--weights", str(SHIPPED_MODEL), "--ledger", str(tmp_path / "l.sqlite3"), "--study", study,
               "--user", "reader", "--password", "wrong"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    said = " ".join(refused.stderr.split())
    assert refused.returncode == 1 and "401" in said and orthanc.dicomweb_url in said
    assert "Traceback" not in refused.stderr and "wrong" not in refused.stderr + refused.stdout
    result, said = process(orthanc, tmp_path / "l.sqlite3", "--study", study, "--user", "reader",
                           "--password", "s3cret", "--no-capture")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(t["Modality"] for t in orthanc.study_instances(study)) == ["DX", "SR"]
    assert len(orthanc.study_instances(str(unwanted.StudyInstanceUID))) == 1


def test_bad_options_are_refused_before_any_request(tmp_path):
    url = "http://127.0.0.1:9/dicom-web"
    model = str(SHIPPED_MODEL)
    arguments = ["dicom", "process", "--dicomweb", url, "--weights", model, "--since", "last week"]
    result = runner.invoke(app, arguments)
    assert isinstance(result.exception, ConfigError) and "YYYYMMDD" in str(result.exception)


def test_a_run_cut_off_inside_a_study_goes_on_where_it_stopped(orthanc_factory, tmp_path, monkeypatch):
    from bonefrac.errors import PacsError
    from bonefrac.pacs.dicomweb import DicomwebProcessor

    orthanc = orthanc_factory({})
    first = synthetic_dx(seed=16, size=256)
    second = synthetic_dx(seed=17, size=256, study_uid=str(first.StudyInstanceUID))
    for dataset in (first, second):
        orthanc.upload(part10(dataset))
    real = DicomwebProcessor._process_instance
    calls = []

    def fails_on_the_second(self, *args):
        calls.append(args)
        if len(calls) == 2:
            raise PacsError("the server went away (simulated)")
        return real(self, *args)

    monkeypatch.setattr(DicomwebProcessor, "_process_instance", fails_on_the_second)
    cut, _ = process(orthanc, tmp_path / "ledger.sqlite3")
    assert isinstance(cut.exception, PacsError)
    study = str(first.StudyInstanceUID)
    assert sorted(t["Modality"] for t in orthanc.study_instances(study)) == ["DX", "DX", "OT", "SR"]
    monkeypatch.setattr(DicomwebProcessor, "_process_instance", real)
    resumed, said = process(orthanc, tmp_path / "ledger.sqlite3")
    assert resumed.exit_code == 0, resumed.output
    assert "2 radiograph(s), 4 result(s) stored" in said  # the first image's results counted, not redone
    assert sorted(t["Modality"] for t in orthanc.study_instances(study)) == [
        "DX",
        "DX",
        "OT",
        "OT",
        "SR",
        "SR",
    ]
