"""int8 quantization: the nodes kept in float are found by walking back from the outputs; bad methods fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefrac.errors import ExportError
from bonefrac.export.quantize import detect_module_nodes, float_head_nodes, quantize_int8
from bonefrac.export.samples import synthetic_samples

pytest.importorskip("onnx")

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "model" / "model.onnx"


def test_float_nodes_are_the_decode_the_sigmoid_and_the_last_learned_convolutions():
    import onnx

    graph = onnx.load(str(SHIPPED), load_external_data=False).graph
    by_name = {node.name: node for node in graph.node}
    kept = set(float_head_nodes(SHIPPED))
    output_node = next(n for n in graph.node if graph.output[0].name in n.output)
    assert output_node.name in kept  # the Concat of boxes and scores
    kinds = [by_name[name].op_type for name in kept]
    assert kinds.count("Sigmoid") == 1 and kinds.count("Softmax") == 1  # class scores, DFL
    convs = [by_name[name] for name in kept if by_name[name].op_type == "Conv"]
    learned = [c for c in convs if len(c.input) == 3]  # the head branches' last convolutions carry a bias
    assert len(learned) == 6 and len(convs) == 7  # 2 branches x 3 levels, and the DFL's fixed conv
    # nothing before the head's last convolutions: the rest of the network is quantized
    assert len(kept) < len(graph.node) // 5
    for conv in learned:
        producer = next(n for n in graph.node if conv.input[0] in n.output)
        assert producer.name not in kept


def test_the_whole_detect_head_holds_the_decode_and_its_branches():
    decode, head = set(float_head_nodes(SHIPPED)), set(detect_module_nodes(SHIPPED))
    assert decode < head
    branch_convs = [name for name in head - decode if name.endswith("/conv/Conv")]
    assert len(branch_convs) == 12  # 2 branches x 3 levels x 2 convolutions before the last one


def test_unknown_calibration_method_is_refused(tmp_path):
    images = [image for _, image in synthetic_samples(1)]
    with pytest.raises(ExportError, match="accepted: minmax, percentile, entropy"):
        quantize_int8(SHIPPED, tmp_path / "int8.onnx", images, 480, method="kl")
