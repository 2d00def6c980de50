"""The DICOM node refuses what it must, answers the proper status, and keeps serving (no Orthanc needed)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from dicom_sources import synthetic_dx
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE

from bonefrac.errors import ConfigError
from bonefrac.infer.analysis import FractureAnalyser
from bonefrac.pacs.inbox import Inbox
from bonefrac.pacs.node import DATASET_DOES_NOT_MATCH, SUCCESS, DicomNode, NodeSettings

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "deploy" / "model" / "model.onnx"
DX = "1.2.840.10008.5.1.4.1.1.1.1"
VERIFICATION = "1.2.840.10008.1.1"


@pytest.fixture(scope="module")
def analyser():
    return FractureAnalyser.from_model(SHIPPED_MODEL, threads=1)


@pytest.fixture
def node(analyser, tmp_path):
    running = DicomNode(NodeSettings(work_dir=tmp_path / "node", port=0, allowed_callers=("PACS",)), analyser)
    running.start()
    yield running
    running.stop()


def associate(node, calling="PACS", contexts=(DX, VERIFICATION)):
    scu = AE(ae_title=calling)
    for context in contexts:
        scu.add_requested_context(context, ExplicitVRLittleEndian)
    return scu.associate("127.0.0.1", node.port, ae_title="BONEFRAC")


def store(node, dataset, calling="PACS"):
    association = associate(node, calling)
    assert association.is_established
    try:
        return int(association.send_c_store(dataset).Status)
    finally:
        association.release()


def wait_for_state(node, uid, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = {e.sop_instance_uid: e for e in node.inbox.entries()}
        if uid in states and states[uid].state != "accepted":
            return states[uid]
        time.sleep(0.2)
    raise AssertionError(f"{uid} still waiting")


def test_an_unknown_calling_ae_is_refused_in_the_association(node):
    association = associate(node, calling="STRANGER")
    assert association.is_rejected
    assert store(node, synthetic_dx(size=128)) == SUCCESS  # and the node still serves the allowed one


def test_a_storage_class_that_is_not_a_radiograph_is_refused_and_the_node_goes_on(node):
    association = associate(node, contexts=(CTImageStorage, VERIFICATION))
    assert association.is_established
    accepted = {str(c.abstract_syntax) for c in association.accepted_contexts}
    assert accepted == {VERIFICATION}
    assert int(association.send_c_echo().Status) == SUCCESS
    association.release()


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")
@pytest.mark.parametrize("damage", ["study uid", "pixels"])
def test_data_sets_that_cannot_be_filed_get_a_failure_status(node, damage):
    dataset = synthetic_dx(size=128)
    if damage == "study uid":
        dataset.StudyInstanceUID = "1.2.3.not-a-uid"
    else:
        del dataset.PixelData
    assert store(node, dataset) == DATASET_DOES_NOT_MATCH
    assert node.inbox.entries() == []


def test_an_image_that_cannot_be_analysed_is_journalled_as_failed_and_the_next_one_works(node):
    broken = synthetic_dx(size=128, seed=1)
    broken.PixelData = broken.PixelData[: len(broken.PixelData) // 2]  # half the pixels
    good = synthetic_dx(size=128, seed=2)
    assert store(node, broken) == SUCCESS  # accepted first: analysed later
    assert store(node, good) == SUCCESS
    failed = wait_for_state(node, str(broken.SOPInstanceUID))
    assert failed.state == "failed" and "pixel" in (failed.error or "").lower()
    assert wait_for_state(node, str(good.SOPInstanceUID)).state == "done"
    assert sorted(p.name for p in (node.settings.work_dir / "results").iterdir()) == [
        f"{good.SOPInstanceUID}.sc.dcm",
        f"{good.SOPInstanceUID}.sr.dcm",
    ]


def test_images_accepted_before_a_stop_are_analysed_at_the_next_start(analyser, tmp_path):
    work_dir = tmp_path / "node"
    waiting = synthetic_dx(size=128, seed=3)
    buffer = io.BytesIO()
    waiting.save_as(buffer, enforce_file_format=True)
    inbox = Inbox(work_dir, capacity=4)
    uid = str(waiting.SOPInstanceUID)
    assert inbox.accept(uid, str(waiting.StudyInstanceUID), "PACS", buffer.getvalue()) == "accepted"
    inbox.close()  # the node stopped here, before analysing it
    node = DicomNode(NodeSettings(work_dir=work_dir, port=0, allowed_callers=("PACS",)), analyser)
    node.start()
    try:
        assert wait_for_state(node, uid).state == "done"
        assert store(node, waiting) == SUCCESS  # sent again later: acknowledged, not analysed twice
        assert [e.state for e in node.inbox.entries()] == ["done"]
    finally:
        node.stop()
    assert not (work_dir / "spool" / f"{uid}.dcm").exists()  # the image is not kept once done


def test_the_inbox_refuses_past_its_capacity_and_names_files_only_by_uids(tmp_path):
    inbox = Inbox(tmp_path, capacity=1)
    first, second = generate_uid(), generate_uid()
    assert inbox.accept(first, generate_uid(), "PACS", b"x") == "accepted"
    assert inbox.accept(first, generate_uid(), "PACS", b"x") == "seen"
    assert inbox.accept(second, generate_uid(), "PACS", b"x") == "full"
    with pytest.raises(ValueError, match="not a DICOM UID"):
        inbox.accept("../../etc/passwd", generate_uid(), "PACS", b"x")
    inbox.close()


def test_a_node_that_would_accept_nobody_does_not_start(tmp_path):
    with pytest.raises(ConfigError, match="--allow"):
        NodeSettings(work_dir=tmp_path)
