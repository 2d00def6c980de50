"""Where a run starts: an architecture file (random init) or a .pt checkpoint, inspected and credited.

`inspect_start` reads the start before anything trains and fails clearly when ultralytics could not train it
as a detector of the data set's classes; the StartRecord it returns goes into the run folder (`start` in
environment.json and metrics.json). Credit comes from known_starts.yaml, keyed by the file's sha256.
Call `bonefrac.ultralytics_env.prepare_ultralytics()` first: checkpoints are read as ultralytics reads them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from bonefrac.errors import ConfigError, ModelError
from bonefrac.hashing import file_sha256

logger = logging.getLogger(__name__)

KNOWN_STARTS_FILE = Path(__file__).with_name("known_starts.yaml")
# Module names of the YOLOv5 repository's pickles (what ultralytics calls "not forwards compatible").
YOLOV5_REPO_MODULES = frozenset({"models", "models.yolo", "models.common", "models.experimental"})
ACCEPTED = (
    "an ultralytics detection checkpoint (.pt written by ultralytics or bonefrac training, task 'detect') "
    "or an architecture .yaml"
)


@dataclass(frozen=True)
class KnownStart:
    """One entry of known_starts.yaml."""

    sha256: str
    name: str
    architecture: str
    credit: str
    license: str
    source: str
    size_bytes: int | None = None
    trainable: bool = True
    refusal: str | None = None  # why ultralytics cannot train from it (trainable: false)
    use_instead: str | None = None


@dataclass(frozen=True)
class StartRecord:
    """What a run started from; `credit` is None for random init and for unknown weights."""

    kind: Literal["architecture", "weights"]
    model: str  # as configured
    init: Literal["random", "pretrained"]
    layers: int  # top-level layers (ultralytics' freeze counts these)
    architecture: str
    path: str | None = None  # resolved path of a .pt
    sha256: str | None = None
    size_bytes: int | None = None
    name: str | None = None  # the known entry's name
    credit: str | None = None
    license: str | None = None
    source: str | None = None
    known: bool = False
    task: str | None = None
    classes: int | None = None  # the checkpoint's class count (ultralytics rebuilds the head for the data's)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_known_starts(path: Path = KNOWN_STARTS_FILE) -> dict[str, KnownStart]:
    """sha256 -> KnownStart from the registry file."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries = data.get("starts") or {}
    return {sha: KnownStart(sha256=sha, **fields) for sha, fields in entries.items()}


def inspect_start(model: str, known: dict[str, KnownStart] | None = None) -> StartRecord:
    """The StartRecord of `model` (a .pt path or an architecture .yaml); ModelError if it can't be trained."""
    if Path(model).suffix.lower() != ".pt":
        return _architecture_start(model)
    return _weights_start(Path(model), load_known_starts() if known is None else known)


def check_freeze(freeze: int, start: StartRecord) -> None:
    """Freezing must leave at least the last layer (the Detect head) trainable."""
    if freeze and freeze >= start.layers:
        raise ConfigError(
            f"freeze: {freeze} asks to freeze {freeze} layers, but {start.architecture} has {start.layers} "
            f"layers (0-{start.layers - 1}, the Detect head last); freeze at most {start.layers - 1}"
        )


def _architecture_start(model: str) -> StartRecord:
    from ultralytics.nn.tasks import yaml_model_load

    try:
        spec = yaml_model_load(model)
    except Exception as exc:  # ultralytics raises plain FileNotFoundError/KeyError/YAMLError here
        raise ModelError(f"cannot read the architecture file {model!r}: {type(exc).__name__}: {exc}") from exc
    layers = len(spec.get("backbone") or []) + len(spec.get("head") or [])
    return StartRecord(
        kind="architecture", model=model, init="random", layers=layers, architecture=Path(model).stem
    )


def _check_file_name(path: Path) -> None:
    from ultralytics.utils.checks import check_yolov5u_filename

    renamed = check_yolov5u_filename(path.name, verbose=False)
    if renamed != path.name:
        raise ModelError(
            f"{path}: ultralytics treats a file named {path.name!r} as its own hub model: it renames it to "
            f"{renamed!r} and tries to download that. Rename the file (for example 'coco_{path.name}'); "
            f"accepted: {ACCEPTED}"
        )


def _load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict as ultralytics loads it, or a ModelError saying what the file is instead."""
    from ultralytics.nn.tasks import torch_safe_load

    try:
        ckpt, _ = torch_safe_load(str(path))
    except (TypeError, ModuleNotFoundError) as exc:
        cause = exc if isinstance(exc, ModuleNotFoundError) else exc.__cause__
        missing = getattr(cause, "name", None) if isinstance(cause, ModuleNotFoundError) else None
        if missing in YOLOV5_REPO_MODULES:
            raise ModelError(
                f"{path} is a YOLOv5-repository pickle (it needs that repository's module {missing!r}); "
                "ultralytics refuses it as not forwards compatible. Use an ultralytics-format checkpoint, "
                "e.g. ../shared/pretrained/coco_yolov5nu_backbone_neck.pt (the same COCO backbone and neck)"
            ) from exc
        if missing:
            raise ModelError(
                f"{path} needs the Python module {missing!r}, which is not installed; accepted: {ACCEPTED}"
            ) from exc
        reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc).splitlines()[0]
        raise ModelError(
            f"{path} is not a readable torch checkpoint ({reason}); accepted: {ACCEPTED}"
        ) from exc
    except Exception as exc:
        raise ModelError(
            f"{path} could not be read as a torch checkpoint ({type(exc).__name__}: {exc}); "
            f"accepted: {ACCEPTED}"
        ) from exc
    return ckpt


def _detection_model(path: Path, ckpt: dict[str, Any]) -> Any:
    """The checkpoint's model, checked to be a detector ultralytics can rebuild for other classes."""
    import torch
    from ultralytics.nn.tasks import guess_model_task

    model = ckpt.get("ema") or ckpt.get("model")
    if not isinstance(model, torch.nn.Module):
        raise ModelError(
            f"{path} is a torch file but holds no model ({len(ckpt)} keys: {list(map(str, ckpt))[:4]}...); "
            f"a bare state_dict cannot be trained here. Accepted: {ACCEPTED}"
        )
    task = getattr(model, "task", None) or guess_model_task(model)
    if task != "detect":
        raise ModelError(
            f"{path} is a {task!r} model ({type(model).__name__}), not a detector; bonefrac trains box "
            f"detectors. Accepted: {ACCEPTED}"
        )
    if not isinstance(getattr(model, "yaml", None), dict) or not hasattr(model, "model"):
        raise ModelError(
            f"{path} holds a {type(model).__name__} without ultralytics' architecture record (model.yaml), "
            f"so its head cannot be rebuilt for the data set's classes. Accepted: {ACCEPTED}"
        )
    return model


def _weights_start(path: Path, known: dict[str, KnownStart]) -> StartRecord:
    if not path.is_file():
        raise ModelError(f"model weights not found: {path.resolve()}")
    _check_file_name(path)
    digest = file_sha256(path)
    entry = known.get(digest)
    if entry is not None and not entry.trainable:
        raise ModelError(
            f"{path} is {entry.name} ({entry.architecture}): {entry.refusal or 'not trainable here'}; "
            f"use {entry.use_instead}"
        )
    model = _detection_model(path, _load_checkpoint(path))
    names = getattr(model, "names", None)
    classes = model.yaml.get("nc") or (len(names) if names else None)
    if entry is None:
        logger.warning(
            "%s (sha256 %s) is not among the known starting weights (%s): recorded by path and sha256 with "
            "credit: null; add it there if it derives from third-party weights that must be credited",
            path,
            digest[:12],
            KNOWN_STARTS_FILE.name,
        )
    return StartRecord(
        kind="weights",
        model=str(path),
        init="pretrained",
        layers=len(model.model),
        architecture=entry.architecture if entry else Path(model.yaml.get("yaml_file") or path.name).stem,
        path=str(path.resolve()),
        sha256=digest,
        size_bytes=path.stat().st_size,
        name=entry.name if entry else None,
        credit=entry.credit if entry else None,
        license=entry.license if entry else None,
        source=entry.source if entry else None,
        known=entry is not None,
        task="detect",
        classes=int(classes) if classes else None,
    )
