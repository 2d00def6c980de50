"""ultralytics' own validation figures for a .pt, reported beside the project's (labelled as such).

ultralytics integrates the PR curve differently from COCO (its own interpolation, precision and recall at
the confidence with the best mean F1), so its numbers differ from box.mAP50 and friends by design.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from bonefrac.evaluate.record import UltralyticsClass, UltralyticsFigures

logger = logging.getLogger(__name__)


def ultralytics_figures(weights: Path, data_yaml: Path, split: str, imgsz: int | None) -> UltralyticsFigures:
    """mAP50, mAP50-95, precision and recall from `YOLO(weights).val(...)`; only `error` set if it fails."""
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights))
        with tempfile.TemporaryDirectory(prefix="bonefrac-val-") as project:
            view = linked_split_view(data_yaml, split, Path(project) / "data")
            result = model.val(
                data=str(view),
                split="val",
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
            str(names[int(c)]): UltralyticsClass(
                ap50=float(box.all_ap[i, 0]), ap50_95=float(box.all_ap[i].mean())
            )
            for i, c in enumerate(box.ap_class_index)
        }
    except Exception as exc:  # a failing side figure must not lose the project's own evaluation
        logger.warning("ultralytics validation failed: %s", exc)
        return UltralyticsFigures(error=str(exc))
    return UltralyticsFigures(
        source="ultralytics model.val (its own interpolation; P and R at its max-F1 confidence)",
        version=_ultralytics_version(),
        map50=float(box.map50),
        map50_95=float(box.map),
        precision=float(box.mp),
        recall=float(box.mr),
        per_class=per_class,
    )


def linked_split_view(data_yaml: Path, split: str, folder: Path) -> Path:
    """A data.yaml over symbolic links to one split's images and labels, as its 'val' split.

    ultralytics writes a labels .cache file beside the label folder it reads; through the links it lands
    in `folder`, so the user's data set (possibly read-only, like a shared copy) is never written to.
    """
    import yaml

    from bonefrac.data.yolo_format import label_path_for, load_dataset

    spec = load_dataset(data_yaml)
    images, labels = folder / "images", folder / "labels"
    images.mkdir(parents=True)
    labels.mkdir()
    for index, image in enumerate(spec.splits[split]):
        name = f"{index:06d}_{image.name}"
        (images / name).symlink_to(image)
        label = label_path_for(image)
        if label.is_file():
            (labels / name).with_suffix(".txt").symlink_to(label)
    view = folder / "data.yaml"
    names = dict(enumerate(spec.class_names))
    content = {"path": str(folder), "train": "images", "val": "images", "names": names}  # train: required
    view.write_text(yaml.safe_dump(content), encoding="utf-8")
    return view


def _ultralytics_version() -> str:
    import ultralytics

    return str(ultralytics.__version__)
