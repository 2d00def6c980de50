"""Predict once per image at a low confidence floor, save/load the predictions, read the ground truth.

Every metric is computed from these saved records, never from framework objects: ultralytics `Results`
are turned into `Detections` as soon as they come back (.pt), and `.onnx` models go through the same
`Predictor` the service uses, so what is evaluated is what is served.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bonefrac.data.yolo_format import label_path_for, read_label_lines
from bonefrac.errors import EvaluationError, ModelError
from bonefrac.geometry import cxcywh_to_xyxy
from bonefrac.labels import parse_label_line
from bonefrac.records import DatasetSpec, Detections

logger = logging.getLogger(__name__)

DEFAULT_CONF_FLOOR = 0.001
WeightKind = Literal["pt", "onnx"]
WEIGHT_KINDS: dict[str, WeightKind] = {".pt": "pt", ".onnx": "onnx"}
PREDICTIONS_FORMAT = "bonefrac.predictions/1"


@dataclass(frozen=True)
class ImagePrediction:
    """What a model found on one image, with the image size the boxes refer to."""

    path: Path
    width: int
    height: int
    detections: Detections


@dataclass(frozen=True)
class GroundTruth:
    """The labelled boxes of one image in pixel coordinates (an empty array for a background image)."""

    path: Path
    width: int
    height: int
    xyxy: np.ndarray  # (G, 4) float64
    class_id: np.ndarray  # (G,) int64

    @property
    def is_background(self) -> bool:
        return self.xyxy.shape[0] == 0


@dataclass(frozen=True)
class PredictionSet:
    """All predictions of one model on one split, with how they were made."""

    weights: Path
    kind: str  # "pt" or "onnx"
    split: str
    class_names: tuple[str, ...]
    conf_floor: float
    images: tuple[ImagePrediction, ...]
    skipped: tuple[str, ...] = ()  # "path: reason" for images the model could not read
    imgsz: int | None = None
    engine: str = "onnxruntime"  # what ran an .onnx model (an infer.engines name); "ultralytics" for .pt


def weights_kind(weights: Path) -> WeightKind:
    """'pt' or 'onnx' for an existing weights file; ModelError otherwise."""
    weights = Path(weights)
    kind = WEIGHT_KINDS.get(weights.suffix.lower())
    if kind is None:
        raise ModelError(
            f"weights must be a .pt (ultralytics training output) or .onnx (bonefrac export) file, "
            f"got {weights.name!r}"
        )
    if not weights.is_file():
        raise ModelError(f"weights not found: {weights}")
    return kind


def predict_split(
    weights: Path,
    images: Sequence[Path],
    *,
    split: str,
    class_names: tuple[str, ...],
    conf_floor: float = DEFAULT_CONF_FLOOR,
    iou: float = 0.7,
    imgsz: int | None = None,
    engine: str = "onnxruntime",
) -> PredictionSet:
    """Run the model once on every image at `conf_floor`; unreadable images are skipped and listed. `engine`
    runs an .onnx model (onnxruntime, openvino or openvino-bf16); a .pt model always runs in ultralytics."""
    if not 0.0 <= conf_floor < 1.0:
        raise EvaluationError(f"confidence floor must be in [0, 1), got {conf_floor}")
    kind = weights_kind(weights)
    if kind == "pt":
        if engine != "onnxruntime":
            raise EvaluationError(
                f"--engine {engine} runs exported .onnx models; {Path(weights).name} is a .pt model, which "
                "ultralytics runs (export it with `bonefrac export` to evaluate it on another engine)"
            )
        predictions, skipped, used_imgsz, model_names = _predict_pt(weights, images, conf_floor, iou, imgsz)
    else:
        predictions, skipped, used_imgsz, model_names = _predict_onnx(
            weights, images, conf_floor, iou, engine
        )
    if len(model_names) != len(class_names):
        raise ModelError(
            f"{weights.name} predicts {len(model_names)} classes {tuple(model_names)}, but the data set has "
            f"{len(class_names)} {class_names}; evaluate with the data set the model was trained for"
        )
    if tuple(model_names) != tuple(class_names):
        logger.warning("model class names %s differ from the data set's %s", tuple(model_names), class_names)
    if not predictions:
        raise EvaluationError(f"the model could not read any of the {len(images)} images of split {split!r}")
    return PredictionSet(
        weights=Path(weights),
        kind=kind,
        split=split,
        class_names=class_names,
        conf_floor=conf_floor,
        images=tuple(predictions),
        skipped=tuple(skipped),
        imgsz=used_imgsz,
        engine=engine if kind == "onnx" else "ultralytics",
    )


def _predict_pt(
    weights: Path, images: Sequence[Path], conf: float, iou: float, imgsz: int | None
) -> tuple[list[ImagePrediction], list[str], int | None, tuple[str, ...]]:
    from bonefrac.ultralytics_env import first_detections, prepare_ultralytics

    prepare_ultralytics()
    import cv2
    from ultralytics import YOLO

    try:
        model = YOLO(str(weights))
    except Exception as exc:  # ultralytics raises many kinds for a file that is not a checkpoint
        raise ModelError(f"{weights} is not a loadable ultralytics checkpoint: {exc}") from exc
    if model.task != "detect":
        raise ModelError(f"{weights} is a {model.task!r} model; bonefrac evaluates 'detect' models")
    names = tuple(str(model.names[i]) for i in sorted(model.names))
    used_imgsz = imgsz or int(model.overrides.get("imgsz") or 640)
    predictions: list[ImagePrediction] = []
    skipped: list[str] = []
    for path in images:
        # Decoded here with OpenCV, as ultralytics would from the path: its own loader drops some files that
        # OpenCV decodes (a JPEG cut short: missing rows grey), which the ONNX path scores too.
        pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if pixels is None:
            skipped.append(f"{path}: OpenCV cannot decode it")
            logger.warning("skipping %s: OpenCV cannot decode it", path)
            continue
        try:
            results = model.predict(
                source=pixels, conf=conf, iou=iou, imgsz=used_imgsz, max_det=300, verbose=False
            )
        except Exception as exc:  # a corrupt file must not end the whole evaluation
            skipped.append(f"{path}: {exc}")
            logger.warning("skipping %s: %s", path, exc)
            continue
        found = first_detections(results, names)
        if found is None:
            skipped.append(f"{path}: ultralytics returned no result for it")
            logger.warning("skipping %s: ultralytics returned no result for it", path)
            continue
        detections, (height, width) = found
        predictions.append(ImagePrediction(Path(path), width, height, detections))
    return predictions, skipped, used_imgsz, names


def _predict_onnx(
    weights: Path, images: Sequence[Path], conf: float, iou: float, engine: str
) -> tuple[list[ImagePrediction], list[str], int | None, tuple[str, ...]]:
    try:
        from bonefrac.imaging.io import load_image
        from bonefrac.infer.predictor import Predictor
    except ImportError as exc:
        raise ModelError(
            f"evaluating .onnx needs bonefrac.infer and bonefrac.imaging (install the 'serve' extra): {exc}"
        ) from exc
    from bonefrac.errors import ImageError

    predictor = Predictor(weights, engine=engine)
    predictions: list[ImagePrediction] = []
    skipped: list[str] = []
    for path in images:
        try:
            # Truncated JPEGs are decoded as OpenCV (so the .pt path) does: both paths score one image set.
            # `bonefrac data check` reports them.
            radiograph = load_image(path, allow_truncated=True)
        except ImageError as exc:
            skipped.append(f"{path}: {exc}")
            logger.warning("skipping %s: %s", path, exc)
            continue
        detections = predictor.predict(radiograph, conf=conf, iou=iou)
        predictions.append(ImagePrediction(Path(path), radiograph.width, radiograph.height, detections))
    return predictions, skipped, int(predictor.input_size), tuple(predictor.class_names)


def parse_label_file(label_path: Path, width: int, height: int, n_classes: int) -> GroundTruth:
    """YOLO label lines (class cx cy w h, or class x1 y1 x2 y2 ... polygons) as pixel boxes.

    Lines are read by `bonefrac.labels.parse_label_line`, the parser of `bonefrac data check`, so a polygon is
    its bounding box here too. A missing file means a background image. Lines that cannot be read (wrong field
    count, class out of range, not finite numbers) are skipped with a warning: data checks report them;
    evaluation must still run. Boxes are clipped to the image; a box with no area left is skipped.
    """
    lines = read_label_lines(label_path) if label_path.is_file() else []
    return truth_from_label_lines(lines, Path(label_path), width, height, n_classes)


def truth_from_label_lines(
    lines: Sequence[str], label_path: Path, width: int, height: int, n_classes: int
) -> GroundTruth:
    """`parse_label_file` for label lines already read (an uploaded label file); `label_path` names them."""
    boxes: list[tuple[float, float, float, float]] = []
    classes: list[int] = []
    numbers: list[int] = []
    for number, line in enumerate(lines, start=1):
        parsed = parse_label_line(line, n_classes)
        if parsed.box is None:
            reason = "; ".join(p.message for p in parsed.problems)
            logger.warning("%s line %d: %s, skipped: %r", label_path, number, reason, line)
            continue
        boxes.append(parsed.box[1:])
        classes.append(int(parsed.box[0]))
        numbers.append(number)
    scale = np.array([width, height, width, height], dtype=np.float64)
    xyxy = np.clip(cxcywh_to_xyxy(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)) * scale, 0, scale)
    has_area = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    for index in np.flatnonzero(~has_area):
        logger.warning("%s line %d: box has no area inside the image, skipped", label_path, numbers[index])
    return GroundTruth(
        path=Path(label_path),
        width=width,
        height=height,
        xyxy=xyxy[has_area],
        class_id=np.asarray(classes, dtype=np.int64)[has_area],
    )


def load_ground_truth(predictions: PredictionSet) -> list[GroundTruth]:
    """Ground truth for every predicted image, at the size the model saw it."""
    n_classes = len(predictions.class_names)
    truths = []
    for item in predictions.images:
        truth = parse_label_file(label_path_for(item.path), item.width, item.height, n_classes)
        truths.append(GroundTruth(item.path, item.width, item.height, truth.xyxy, truth.class_id))
    return truths


def split_images(spec: DatasetSpec, split: str) -> tuple[Path, ...]:
    """The images of `split`, with an EvaluationError naming the splits that exist."""
    if split not in spec.splits:
        raise EvaluationError(
            f"split {split!r} is not in {spec.yaml_path}; available splits: {', '.join(sorted(spec.splits))}"
        )
    images = spec.splits[split]
    if not images:
        raise EvaluationError(f"split {split!r} of {spec.yaml_path} has no images")
    return images


def save_predictions(predictions: PredictionSet, path: Path) -> Path:
    """Write predictions.json (boxes rounded to 0.01 px, confidences to 1e-5)."""
    data: dict[str, Any] = {
        "format": PREDICTIONS_FORMAT,
        "weights": str(predictions.weights),
        "kind": predictions.kind,
        "split": predictions.split,
        "class_names": list(predictions.class_names),
        "conf_floor": predictions.conf_floor,
        "imgsz": predictions.imgsz,
        "engine": predictions.engine,
        "skipped": list(predictions.skipped),
        "images": [
            {
                "path": str(item.path),
                "width": item.width,
                "height": item.height,
                "detections": item.detections.to_list(),
            }
            for item in predictions.images
        ],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path


def load_predictions(path: Path) -> PredictionSet:
    """Read a predictions.json written by `save_predictions`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"cannot read predictions {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != PREDICTIONS_FORMAT:
        raise EvaluationError(f"{path} is not a bonefrac predictions file (format {PREDICTIONS_FORMAT})")
    names = tuple(data["class_names"])
    images = []
    for item in data["images"]:
        boxes = item["detections"]
        detections = Detections(
            np.asarray([b["xyxy"] for b in boxes], dtype=np.float32).reshape(-1, 4),
            np.asarray([b["confidence"] for b in boxes], dtype=np.float32),
            np.asarray([b["class_id"] for b in boxes], dtype=np.int64),
            names,
        )
        images.append(
            ImagePrediction(Path(item["path"]), int(item["width"]), int(item["height"]), detections)
        )
    return PredictionSet(
        weights=Path(data["weights"]),
        kind=data["kind"],
        split=data["split"],
        class_names=names,
        conf_floor=float(data["conf_floor"]),
        images=tuple(images),
        skipped=tuple(data.get("skipped", ())),
        imgsz=data.get("imgsz"),
        engine=data.get("engine", "onnxruntime" if data["kind"] == "onnx" else "ultralytics"),
    )
