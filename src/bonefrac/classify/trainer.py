"""Train the fracture classifier and write its run folder. Reads top to bottom: data -> model -> loop -> test.

runs/<experiment>/<name>/ gets config.yaml (resolved), dataset.json (fingerprints and counts),
environment.json (versions, threads, the ImageNet start with its sha256 and credit), epochs.jsonl (per epoch),
weights/{best,last}.pt (best by val AUROC) and metrics.json (val and test AUROC, test with a 95 % interval).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bonefrac.classify.config import ClassifierConfig, dump_classifier_config
from bonefrac.classify.data import (
    AugmentedImages,
    LabelledImages,
    balanced_sample_weights,
    default_epoch_images,
    load_split,
)
from bonefrac.errors import DatasetError, TrainingError

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "bonefrac.classifier/1"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class ClassifierRun:
    """What a finished classifier run produced."""

    run_dir: Path
    best_weights: Path
    best_epoch: int
    epochs_completed: int
    val_auroc: float
    test_auroc: float | None
    test_auroc_ci95: tuple[float, float] | None
    train_wall_time_s: float


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _resolve_data(config: ClassifierConfig) -> tuple[Any, Any]:
    """(source spec, spec trained on): the config's data.yaml, with its subset applied when it has one."""
    from bonefrac.data.yolo_format import load_dataset
    from bonefrac.train.data_source import ensure_subset

    source_yaml = Path(config.data).expanduser()
    if not source_yaml.is_file():
        raise DatasetError(
            f"data.yaml not found: {source_yaml.resolve()} "
            "(paths are relative to the folder you run bonefrac from)"
        )
    source = load_dataset(source_yaml)
    trained = load_dataset(ensure_subset(config, source)) if config.subset is not None else source
    for split in ("train", "val"):
        if not trained.splits.get(split):
            raise DatasetError(f"{trained.yaml_path}: classifier training needs a non-empty {split!r} split")
    return source, trained


def predict_probabilities(model: Any, images: LabelledImages, batch: int, device: Any = "cpu") -> np.ndarray:
    """(N,) fracture probabilities of the unaugmented images."""
    import torch

    model.eval()
    out = np.empty(len(images), np.float64)
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            x = torch.from_numpy(images.pixels[start : start + batch]).unsqueeze(1).float().div_(255.0)
            x = x.to(device).contiguous(memory_format=torch.channels_last)
            out[start : start + batch] = torch.sigmoid(model(x)).double().cpu().numpy()
    return out


def planned_epochs(config: ClassifierConfig, done: int, elapsed_s: float) -> int:
    """Epochs the run will train: `epochs`, or fewer when the budget at the mean epoch time allows fewer
    (the learning-rate schedule follows, so a budgeted run still ends at the low rate)."""
    if config.budget_hours is None or done == 0:
        return config.epochs
    affordable = int(config.budget_hours * 3600 / (elapsed_s / done))
    return max(done, min(config.epochs, affordable))


def torch_device(config: ClassifierConfig) -> Any:
    """The config's device; TrainingError when it asks for a GPU this machine does not have."""
    import torch

    if config.device != "cpu" and not torch.cuda.is_available():
        raise TrainingError(
            f"device {config.device!r} asks for a CUDA GPU, but torch sees none; use device: cpu"
        )
    return torch.device(config.device)


def image_auroc(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """AUROC of image-level probabilities (NaN when a class is absent)."""
    from bonefrac.evaluate.metrics import auroc

    return float(auroc(probabilities, labels.astype(bool), np.ones((1, len(labels))))[0])


def auroc_interval(
    probabilities: np.ndarray, labels: np.ndarray, resamples: int, seed: int
) -> tuple[float, float] | None:
    """95 % bootstrap interval of the AUROC, resampling images."""
    from bonefrac.evaluate.bootstrap import bootstrap_intervals
    from bonefrac.evaluate.metrics import auroc

    if resamples < 1:
        return None
    positive = labels.astype(bool)
    intervals = bootstrap_intervals(
        lambda w: {"auroc": auroc(probabilities, positive, w)}, len(labels), resamples, seed
    )
    return intervals["auroc"]


def _learning_rate(config: ClassifierConfig, step: int, steps_per_epoch: int, total_steps: int) -> float:
    """Linear warm-up, then cosine decay to 1 % of lr."""
    warmup = int(config.warmup_epochs * steps_per_epoch)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = (step - warmup) / max(total_steps - warmup, 1)
    return config.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def _save_checkpoint(path: Path, model: Any, config: ClassifierConfig, epoch: int, val_auroc: float) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "architecture": "efficientnet_lite0",
            "imgsz": config.imgsz,
            "epoch": epoch,
            "val_auroc": val_auroc,
            "config": dump_classifier_config(config),
            "state_dict": model.state_dict(),
        },
        tmp,
    )
    tmp.replace(path)


def load_classifier_checkpoint(path: Path) -> tuple[Any, dict[str, Any]]:
    """(FractureNet in eval mode, checkpoint metadata) from a weights/best.pt this trainer wrote."""
    import torch

    from bonefrac.classify.network import build_fracture_net
    from bonefrac.errors import ModelError

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"classifier weights not found: {path.resolve()}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ModelError(f"{path} is not a readable torch checkpoint: {type(exc).__name__}: {exc}") from exc
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        found = checkpoint.get("format") if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ModelError(
            f"{path} is not a bonefrac classifier checkpoint (expected format {CHECKPOINT_FORMAT!r}, "
            f"found {found!r}); detector weights go to `bonefrac export`, not `bonefrac classify export`"
        )
    model = build_fracture_net()
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    return model, {k: v for k, v in checkpoint.items() if k != "state_dict"}


def _environment(threads: int, start: dict[str, str]) -> dict[str, Any]:
    import platform

    import timm
    import torch

    from bonefrac import __version__
    from bonefrac.train.provenance import git_state

    sha, dirty = git_state()
    return {
        "bonefrac": __version__,
        "git_sha": sha,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "device": "cpu",
        "torch_threads": threads,
        "start": start,
    }


def train_classifier(config: ClassifierConfig, *, overwrite: bool = False) -> ClassifierRun:
    """Fine-tune EfficientNet-Lite0 from ImageNet on the data set's image labels; evaluate the best epoch."""
    import shutil

    import torch

    from bonefrac.classify.backbone import fracture_classifier_from_imagenet
    from bonefrac.classify.network import FractureNet
    from bonefrac.train.runner import cpu_threads

    run_dir = config.run_dir.resolve()
    if (run_dir / METRICS_FILE).is_file() and not overwrite:
        raise TrainingError(
            f"run {run_dir} is already finished (metrics.json exists); pick another name, or --overwrite"
        )
    if run_dir.exists() and overwrite:
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    threads = config.threads or cpu_threads()
    torch.set_num_threads(threads)
    device = torch_device(config)

    # data
    source, trained = _resolve_data(config)
    train = load_split(trained, "train", config.imgsz)
    val = load_split(trained, "val", config.imgsz)
    test = load_split(trained, "test", config.imgsz) if trained.splits.get("test") else None
    epoch_images = config.epoch_images or default_epoch_images(train.labels)
    generator = torch.Generator().manual_seed(config.seed)
    sampler = torch.utils.data.WeightedRandomSampler(
        balanced_sample_weights(train.labels).tolist(), epoch_images, replacement=True, generator=generator
    )
    loader: torch.utils.data.DataLoader[tuple[torch.Tensor, torch.Tensor]] = torch.utils.data.DataLoader(
        # a map-style dataset by protocol (__len__, __getitem__), torch-free to import; torch's stubs accept
        # only Dataset subclasses, the loader itself takes any such object
        AugmentedImages(train, config.augment),  # type: ignore[arg-type]
        batch_size=config.batch,
        sampler=sampler,
        num_workers=config.workers,
        drop_last=True,
        persistent_workers=config.workers > 0,
        pin_memory=config.device != "cpu",
    )
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(dump_classifier_config(config), sort_keys=False), encoding="utf-8"
    )
    _write_json(
        run_dir / "dataset.json",
        {
            "source": {"yaml": str(source.yaml_path), "fingerprint": source.fingerprint},
            "trained": {"yaml": str(trained.yaml_path), "fingerprint": trained.fingerprint},
            "images": {
                name: {"images": len(s), "fractured": s.positives}
                for name, s in (("train", train), ("val", val), ("test", test))
                if s is not None
            },
            "epoch_images": epoch_images,
        },
    )

    # model
    backbone, start = fracture_classifier_from_imagenet(Path(config.weights) if config.weights else None)
    model = FractureNet(backbone).to(device).to(memory_format=torch.channels_last)
    _write_json(run_dir / "environment.json", _environment(threads, start.to_dict()))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    steps_per_epoch = len(loader)

    # loop
    best_auroc, best_epoch, stale, step, epoch = -1.0, 0, 0, 0, 0
    planned = config.epochs
    started = time.perf_counter()
    epochs_log = run_dir / "epochs.jsonl"
    epochs_log.unlink(missing_ok=True)
    while epoch < planned:
        epoch += 1
        epoch_started = time.perf_counter()
        model.train()
        losses = []
        for x, y in loader:
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(config, step, steps_per_epoch, steps_per_epoch * planned)
            target = (y * (1 - config.label_smoothing) + 0.5 * config.label_smoothing).to(device)
            x = x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            loss = loss_fn(model(x), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
        val_probabilities = predict_probabilities(model, val, config.batch, device)
        val_auroc = image_auroc(val_probabilities, val.labels)
        seconds = time.perf_counter() - epoch_started
        row = {
            "epoch": epoch,
            "train_loss": round(float(np.mean(losses)), 5),
            "val_auroc": round(val_auroc, 5),
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(seconds, 1),
        }
        with epochs_log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        logger.info(
            "epoch %d/%d: loss %.4f, val AUROC %.4f (%.0f s)",
            epoch,
            planned,
            row["train_loss"],
            val_auroc,
            seconds,
        )
        _save_checkpoint(run_dir / "weights" / "last.pt", model, config, epoch, val_auroc)
        if val_auroc > best_auroc:
            best_auroc, best_epoch, stale = val_auroc, epoch, 0
            _save_checkpoint(run_dir / "weights" / "best.pt", model, config, epoch, val_auroc)
        else:
            stale += 1
        if stale >= config.patience:
            logger.info("no better val AUROC for %d epochs: stopping", stale)
            break
        planned = planned_epochs(config, epoch, time.perf_counter() - started)
    wall = time.perf_counter() - started

    # test with the best weights
    best_path = run_dir / "weights" / "best.pt"
    best_model, _ = load_classifier_checkpoint(best_path)
    best_model = best_model.to(device).to(memory_format=torch.channels_last)
    metrics: dict[str, Any] = {
        "schema_version": 1,
        "experiment": config.experiment,
        "name": config.run_name,
        "imgsz": config.imgsz,
        "weights": "weights/best.pt",
        "best_epoch": best_epoch,
        "epochs_completed": epoch,
        "train_wall_time_s": round(wall, 1),
        "dataset_fingerprint": trained.fingerprint,
        "finished_at": datetime.now(UTC).isoformat(),
        "val": {"images": len(val), "fractured": val.positives, "auroc": round(best_auroc, 5)},
    }
    test_auroc, test_ci = None, None
    if test is not None:
        probabilities = predict_probabilities(best_model, test, config.batch, device)
        test_auroc = image_auroc(probabilities, test.labels)
        test_ci = auroc_interval(probabilities, test.labels, config.bootstrap, config.seed)
        metrics["test"] = {
            "images": len(test),
            "fractured": test.positives,
            "auroc": round(test_auroc, 5),
            "auroc_ci95": None if test_ci is None else [round(v, 5) for v in test_ci],
        }
    _write_json(run_dir / METRICS_FILE, metrics)
    return ClassifierRun(
        run_dir=run_dir,
        best_weights=best_path,
        best_epoch=best_epoch,
        epochs_completed=epoch,
        val_auroc=best_auroc,
        test_auroc=test_auroc,
        test_auroc_ci95=test_ci,
        train_wall_time_s=round(wall, 1),
    )
