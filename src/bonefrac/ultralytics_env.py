"""Make ultralytics run offline: no downloads, no auto-installs, a project-owned config dir with a font; and
turn what its predictor returns into `Detections` (`first_detections`), the one place that reads `Results`.

Call `prepare_ultralytics()` before the first `import ultralytics` (train/, export/ and the .pt path of
evaluate/ do); the serving path never imports this module's target.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from bonefrac.records import Detections

logger = logging.getLogger(__name__)


def bonefrac_cache_dir() -> Path:
    """Where bonefrac keeps tool state: $BONEFRAC_CACHE, else ~/.cache/bonefrac."""
    return Path(os.environ.get("BONEFRAC_CACHE", Path.home() / ".cache" / "bonefrac")).expanduser()


def _find_font() -> Path | None:
    try:
        import matplotlib

        candidate = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
        if candidate.is_file():
            return candidate
    except ImportError:
        pass
    for folder in (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts")):
        if folder.is_dir():
            for font in folder.rglob("*.ttf"):
                return font
    return None


def configure_offline_environment() -> Path:
    """Set YOLO_OFFLINE, YOLO_AUTOINSTALL and YOLO_CONFIG_DIR (with Arial.ttf); return the config dir."""
    config_dir = Path(os.environ.get("YOLO_CONFIG_DIR", bonefrac_cache_dir() / "ultralytics"))
    font_dir = config_dir / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = font_dir / name
        if not target.exists():
            font = _find_font()
            if font is not None:
                shutil.copyfile(font, target)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "False"
    os.environ.setdefault("YOLO_VERBOSE", "False")
    return config_dir


def prepare_ultralytics() -> ModuleType:
    """Configure the offline environment, import ultralytics, switch off its network features."""
    configure_offline_environment()
    import ultralytics
    from ultralytics.utils import SETTINGS

    wanted = {
        "sync": False,
        "hub": False,
        "wandb": False,
        "mlflow": False,
        "comet": False,
        "clearml": False,
        "dvc": False,
        "neptune": False,
        "raytune": False,
        "tensorboard": False,
    }
    changes = {k: v for k, v in wanted.items() if k in SETTINGS and SETTINGS[k] != v}
    if changes:
        SETTINGS.update(changes)
    return ultralytics


def _numpy(values: Any) -> np.ndarray:
    """A torch tensor (on any device) or an array as a numpy array."""
    return values if isinstance(values, np.ndarray) else values.cpu().numpy()


def first_detections(
    results: Iterable[object], class_names: tuple[str, ...]
) -> tuple[Detections, tuple[int, int]] | None:
    """The first `Results` of a `model.predict(...)` call as `Detections` and the (height, width) its boxes
    refer to; None when ultralytics returned no result."""
    from ultralytics.engine.results import Results

    for result in results:
        if not isinstance(result, Results):
            raise TypeError(f"ultralytics returned {type(result).__name__}, not Results (embed set?)")
        height, width = (int(v) for v in result.orig_shape[:2])
        boxes = result.boxes
        if boxes is None:  # not a detect model's result
            return Detections.empty(class_names), (height, width)
        detections = Detections(
            _numpy(boxes.xyxy), _numpy(boxes.conf), _numpy(boxes.cls).astype(np.int64), class_names
        )
        return detections, (height, width)
    return None
