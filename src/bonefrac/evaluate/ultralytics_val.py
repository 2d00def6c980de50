"""ultralytics' own validation figures for a .pt, reported beside the project's (labelled as such).

ultralytics integrates the PR curve differently from COCO (its own interpolation, precision and recall at
the confidence with the best mean F1), so its numbers differ from box.mAP50 and friends by design.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def ultralytics_figures(weights: Path, data_yaml: Path, split: str, imgsz: int | None) -> dict[str, Any]:
    """mAP50, mAP50-95, precision and recall from `YOLO(weights).val(...)`; {"error": ...} if it fails."""
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights))
        with tempfile.TemporaryDirectory(prefix="bonefrac-val-") as project:
            result = model.val(
                data=str(data_yaml),
                split=split,
                imgsz=imgsz or int(model.overrides.get("imgsz") or 640),
                batch=8,
                conf=0.001,
                iou=0.7,
                workers=0,
                plots=False,
                save_json=False,
                verbose=False,
                project=project,
                name="val",
            )
        box = result.box
        names = result.names
        per_class = {
            str(names[int(c)]): {"AP50": float(box.all_ap[i, 0]), "AP50_95": float(box.all_ap[i].mean())}
            for i, c in enumerate(box.ap_class_index)
        }
    except Exception as exc:  # a failing side figure must not lose the project's own evaluation
        logger.warning("ultralytics validation failed: %s", exc)
        return {"error": str(exc)}
    return {
        "source": "ultralytics model.val (its own interpolation; P and R at its max-F1 confidence)",
        "version": _ultralytics_version(),
        "mAP50": float(box.map50),
        "mAP50_95": float(box.map),
        "precision": float(box.mp),
        "recall": float(box.mr),
        "per_class": per_class,
    }


def _ultralytics_version() -> str:
    import ultralytics

    return str(ultralytics.__version__)
