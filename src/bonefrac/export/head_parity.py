"""The layer under box parity: the same input tensor, and the same raw output from ONNX and from torch.

For each parity image: ultralytics' own LetterBox gives the reference input tensor; the engine's letterbox
must give exactly that tensor with OpenCV, and within one grey level on under 1 % of values with the numpy
resize. Then the ONNX session and the torch model run on the reference tensor, and their raw head outputs
must agree: class scores within `conf_tol`, box coordinates within BOX_TOL_PX input pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bonefrac.errors import ExportError
from bonefrac.infer.preprocess import preprocess
from bonefrac.records import Radiograph

BOX_TOL_PX = 0.1
NUMPY_LEVEL_TOL = 1.0 / 255.0 + 1e-6
NUMPY_DIFF_SHARE = 0.01


def compare_heads(
    predictors: Mapping[str, Any],
    weights: Path,
    images: Sequence[tuple[str, Radiograph]],
    *,
    conf_tol: float,
) -> tuple[dict[str, float], list[str]]:
    """Largest input and output differences over the images, and a failure line for each breach."""
    import torch

    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO
    from ultralytics.data.augment import LetterBox

    engine = next(iter(predictors.values()))
    size = engine.input_size
    network = YOLO(str(weights)).model
    if not isinstance(network, torch.nn.Module):
        raise ExportError(f"{weights} holds no torch model (ultralytics loaded {type(network).__name__})")
    model = network.float().eval()
    letterbox = LetterBox(size, auto=False, stride=int(max(model.stride)))
    stats = {"max_input_diff": 0.0, "max_score_diff": 0.0, "max_box_diff_px": 0.0}
    failures: list[str] = []
    for name, image in images:
        bgr = np.ascontiguousarray(image.pixels[:, :, ::-1])
        boxed_bgr = letterbox(image=bgr)  # an array when no labels are given
        if not isinstance(boxed_bgr, np.ndarray):
            raise ExportError(f"ultralytics' LetterBox returned {type(boxed_bgr).__name__}, not an image")
        boxed = boxed_bgr[:, :, ::-1]  # back to RGB, as ultralytics' preprocess does
        reference = (np.ascontiguousarray(boxed.transpose(2, 0, 1))[None].astype(np.float32)) / np.float32(
            255
        )
        for mode, predictor in predictors.items():
            ours, _ = preprocess(image.pixels, size, use_cv2=predictor.use_cv2)
            diff = np.abs(ours - reference)
            stats["max_input_diff"] = max(stats["max_input_diff"], float(diff.max()))
            exact = mode == "opencv"
            if exact and diff.max() > 0:
                failures.append(
                    f"{name}: the OpenCV letterbox differs from ultralytics' (max {diff.max():.2e})"
                )
            elif not exact and (diff.max() > NUMPY_LEVEL_TOL or (diff > 0).mean() > NUMPY_DIFF_SHARE):
                failures.append(
                    f"{name}: the numpy letterbox differs from ultralytics' by up to {diff.max() * 255:.1f} "
                    f"grey levels on {(diff > 0).mean():.2%} of values (allowed: 1 level on 1 %)"
                )
        onnx_head = engine.run_raw(reference)
        with torch.no_grad():
            torch_out = model(torch.from_numpy(reference))
        torch_head = (torch_out[0] if isinstance(torch_out, list | tuple) else torch_out).numpy()
        if onnx_head.shape != torch_head.shape:
            failures.append(f"{name}: ONNX output {onnx_head.shape} vs torch {torch_head.shape}")
            continue
        score_diff = float(np.abs(onnx_head[:, 4:] - torch_head[:, 4:]).max())
        box_diff = float(np.abs(onnx_head[:, :4] - torch_head[:, :4]).max())
        stats["max_score_diff"] = max(stats["max_score_diff"], score_diff)
        stats["max_box_diff_px"] = max(stats["max_box_diff_px"], box_diff)
        if score_diff > conf_tol or box_diff > BOX_TOL_PX:
            failures.append(
                f"{name}: raw outputs differ (scores by {score_diff:.2e}, allowed {conf_tol:g}; "
                f"boxes by {box_diff:.3f} px, allowed {BOX_TOL_PX})"
            )
    return stats, failures
