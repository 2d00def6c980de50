"""The fracture classifier network (normalisation, EfficientNet-Lite0, one logit) and its probability head.

Normalisation lives inside the network, so the ONNX model takes the same (N, 3, S, S) float input in [0, 1] as
the detector and the serving path needs no classifier-specific preprocessing.
"""

from __future__ import annotations

import torch
from torch import nn

from bonefrac.classify.backbone import INPUT_MEAN, INPUT_STD


class FractureNet(nn.Module):
    """(N, 1 or 3, S, S) in [0, 1] -> (N,) fracture logits; a grey plane is repeated to three channels."""

    mean: torch.Tensor  # registered buffers (ImageNet normalisation), declared for the type checker
    std: torch.Tensor

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.register_buffer("mean", torch.tensor(INPUT_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(INPUT_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.expand(-1, 3, -1, -1)  # a no-op on three channels, a broadcast of one grey plane
        return self.backbone((x - self.mean) / self.std).squeeze(1)


class FractureProbability(nn.Module):
    """The exported form: (N, 3, S, S) in [0, 1] -> (N, 1) probability that the image shows a fracture."""

    def __init__(self, net: FractureNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x)).unsqueeze(1)


def build_fracture_net(num_outputs: int = 1) -> FractureNet:
    """A FractureNet with random weights (for loading a trained checkpoint)."""
    from bonefrac.classify.backbone import build_lite0

    return FractureNet(build_lite0(num_outputs))
