"""`bonefrac dicom listen` against a real Orthanc, and the node's refusals without one."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dicom_sources import synthetic_dx
from orthanc_server import free_port
from pydicom import dcmread

from bonefrac.dicom_out.report import read_report

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "deploy" / "model" / "model.onnx"


def part10(dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def start_node(work_dir: Path, port: int, *options: str) -> subprocess.Popen[str]:
    """The real command in a process of its own; returns once it listens."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "bonefrac", "dicom", "listen", "--weights", str(SHIPPED_MODEL),
               "--work-dir", str(work_dir), "--port", str(port), "--threads", "1", *options]  # fmt: skip
    node = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert node.stdout is not None
    for line in node.stdout:
        if "DICOM node" in line and "on 127.0.0.1" in line:
            return node
    raise AssertionError(f"the node did not start (exit {node.wait()})")


def stop_node(node: subprocess.Popen[str]) -> str:
    node.send_signal(signal.SIGTERM)
    output, _ = node.communicate(timeout=30)
    return output


def wait_for(condition, seconds: float = 90.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_a_radiograph_sent_by_orthanc_comes_back_as_report_and_capture_in_its_study(
    orthanc_factory, tmp_path, dciodvfy
):
    node_port = free_port()
    orthanc = orthanc_factory({"BONEFRAC": ("127.0.0.1", node_port)})
    node = start_node(
        tmp_path / "node",
        node_port,
        "--allow",
        "ORTHANC",
        "--send-to",
        f"ORTHANC@127.0.0.1:{orthanc.dicom_port}",
    )
    try:
        source = synthetic_dx(seed=7, size=320)
        study = str(source.StudyInstanceUID)
        instance = orthanc.upload(part10(source))
        orthanc.send_to("BONEFRAC", instance)
        stored = wait_for(lambda: (found := orthanc.study_instances(study)) and len(found) == 3 and found)
        by_modality = {tags["Modality"]: tags for tags in stored}
        assert set(by_modality) == {"DX", "SR", "OT"}
        for kind in ("SR", "OT"):
            assert (
                by_modality[kind]["SeriesInstanceUID"] != source.SeriesInstanceUID
            )  # new series, same study
            assert by_modality[kind]["PatientID"] == source.PatientID
        report = dcmread(io.BytesIO(orthanc.file(by_modality["SR"]["ID"])))
        read = read_report(report)
        assert all(box.referenced_sop_instance_uid == source.SOPInstanceUID for box in read.boxes)
        assert read.call in ("negative", "high_sensitivity", "high_specificity")
        for kind in ("SR", "OT"):
            path = tmp_path / f"{kind}.dcm"
            path.write_bytes(orthanc.file(by_modality[kind]["ID"]))
            assert dciodvfy(path) == []
        orthanc.send_to("BONEFRAC", instance)  # sent again: acknowledged, not analysed twice
        time.sleep(3)
        assert len(orthanc.study_instances(study)) == 3
    finally:
        output = stop_node(node)
    logged = "".join(output.split())  # the console wraps long lines
    assert "Doe^Jane" not in logged and "MRN-0001" not in logged  # logs name UIDs, never the patient
    assert f"C-STOREof{source.SOPInstanceUID}" in logged and "analysed" in logged
