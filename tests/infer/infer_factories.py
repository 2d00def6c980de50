"""Builders for the engine tests: ONNX models whose output is a hand-built head tensor, DICOM files.

Imported by the tests as `infer_factories` (pytest puts this folder on sys.path)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def build_constant_onnx(
    path: Path,
    head: np.ndarray,
    *,
    size: int = 64,
    names: dict[int, str] | None = None,
    imgsz_meta: str | None = None,
) -> Path:
    """An ONNX model with the engine's input (1, 3, size, size) whose output is always `head` (1, 4+nc, N).

    The output still depends on the input (times zero) so onnxruntime cannot fold the input away.
    Metadata mimics what ultralytics embeds (names, imgsz, stride, task).
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    head = np.asarray(head, np.float32)
    nodes = [
        helper.make_node("ReduceMax", ["images"], ["peak"], keepdims=0),
        helper.make_node("Mul", ["peak", "zero"], ["nothing"]),
        helper.make_node("Add", ["head", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_head",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(head.shape))],
        initializer=[
            numpy_helper.from_array(head, "head"),
            numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    names = names if names is not None else {i: f"class{i}" for i in range(head.shape[1] - 4)}
    meta = {
        "names": repr(names),
        "imgsz": imgsz_meta or f"[{size}, {size}]",
        "stride": "32",
        "task": "detect",
        "version": "test",
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    return path


def head_from_boxes(rows: list[tuple[float, ...]], anchors: int | None = None) -> np.ndarray:
    """(1, 4+nc, N) head from rows (cx, cy, w, h, score_0, ...), padded with zero-score anchors."""
    array = np.asarray(rows, np.float32).T  # (4+nc, n)
    total = anchors or array.shape[1]
    head = np.zeros((array.shape[0], total), np.float32)
    head[2:4] = 1.0
    head[:, : array.shape[1]] = array
    return head[None]


def dicom_bytes(stored: np.ndarray, photometric: str = "MONOCHROME2", **elements) -> bytes:
    """A minimal DX DICOM Part 10 file holding a (H, W) uint8 or uint16 image."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = 8 * stored.dtype.itemsize
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.PixelData = stored.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
