"""`bench --engines`: every variant is timed on the same image; the baseline is the bare fp32 session.run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefrac.export.engine_bench import BASELINE, EngineModel, measure_engines
from bonefrac.export.quantize import quantize_int8
from bonefrac.export.samples import synthetic_samples

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "model" / "model.onnx"


def test_engine_rows_cover_both_engines_and_precisions(tmp_path):
    pytest.importorskip("openvino")
    pytest.importorskip("onnx")
    int8 = quantize_int8(SHIPPED, tmp_path / "model.int8.onnx", [i for _, i in synthetic_samples(2)], 480)
    rows = measure_engines(EngineModel("shipped", SHIPPED, int8), threads=1, repeats=3)
    assert [r.variant for r in rows] == [
        BASELINE,
        "engine onnxruntime fp32",
        "engine onnxruntime int8",
        "engine openvino fp32",
        "engine openvino bf16",
        "engine openvino int8",
    ]
    assert all(r.imgsz == 480 and r.threads == 1 and r.ms > 0 for r in rows)
    baseline = rows[0]
    assert baseline.speedup == 1.0
    for row in rows[1:]:
        assert row.speedup == pytest.approx(baseline.ms / row.ms)
