"""Train one model: a thin adapter over ultralytics' trainer that writes a reproducible run folder.

runs/<experiment>/<name>/ gets config.yaml (resolved), dataset.json (fingerprints), environment.json
(versions, device, git sha, the start: see starts.py), results.csv and epochs.jsonl (per epoch),
weights/{best,last}.pt and metrics.json (val and test). Ultralytics objects stay in this module; callers get a
RunResult.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bonefrac.errors import BonefracError, ModelError, TrainingError
from bonefrac.records import RunResult, SplitMetrics
from bonefrac.train.callbacks import offline_amp_check, results_csv_without_polars, training_callbacks
from bonefrac.train.config import TrainConfig, dump_config, read_saved_config, to_ultralytics_args
from bonefrac.train.data_source import TrainingData, prepare_training_data
from bonefrac.train.metrics_files import read_epoch_rows, write_epochs_jsonl
from bonefrac.train.progress import TrainingProgress
from bonefrac.train.provenance import code_version, environment
from bonefrac.train.registry import METRICS_FILE, METRICS_SCHEMA_VERSION, run_state
from bonefrac.train.starts import StartRecord, check_freeze, inspect_start

logger = logging.getLogger(__name__)

# Keys that may change when a run resumes (the rest must match the run's config.yaml).
RESUMABLE_CHANGES = frozenset(
    {"device", "workers", "batch", "cache", "patience", "budget_hours", "plots", "val_each_epoch"}
)
STATUS_FILE = "status.json"


def cpu_threads() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def prefer_passive_openmp() -> None:
    """OMP_WAIT_POLICY=PASSIVE unless set: idle OpenMP threads sleep instead of spinning.

    On a CPU shared with other work, spinning made a 2-thread training step 7-9x slower than 1 thread here;
    passive waiting removes that collapse. Works only before torch is first imported (the CLI's case)."""
    if "torch" in sys.modules:
        logger.debug("torch already imported: OMP_WAIT_POLICY stays %s", os.environ.get("OMP_WAIT_POLICY"))
        return
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def check_device(config: TrainConfig) -> None:
    """Fail early, clearly, when GPUs are asked for that this machine does not have."""
    wanted = config.gpu_indices()
    if not wanted:
        return
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    missing = [i for i in wanted if i >= available]
    if missing:
        has = "no CUDA GPU" if not available else f"{available} CUDA GPU(s), indices 0..{available - 1}"
        raise TrainingError(
            f"device {config.device_string()!r} asks for GPU(s) {missing}, but this machine has {has}; "
            "use device: cpu or a GPU it has"
        )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _read_status(run_dir: Path) -> dict[str, Any]:
    path = run_dir / STATUS_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_status(run_dir: Path, state: str, **extra: Any) -> None:
    status = {**_read_status(run_dir), "state": state, "updated": datetime.now(UTC).isoformat(), **extra}
    _write_json(run_dir / STATUS_FILE, status)


def _check_resumable_config(config: TrainConfig, run_dir: Path) -> None:
    saved_path = run_dir / "config.yaml"
    if not saved_path.is_file():
        return
    saved = read_saved_config(saved_path)
    current = dump_config(config)
    changed = sorted(k for k in current if k not in RESUMABLE_CHANGES and current.get(k) != saved.get(k))
    if changed:
        raise TrainingError(
            f"cannot resume {run_dir}: its config.yaml differs in {changed}; only "
            f"{sorted(RESUMABLE_CHANGES)} may change on resume (start a new run with another name instead)"
        )


def _check_same_data(run_dir: Path, data: TrainingData) -> None:
    saved_path = run_dir / "dataset.json"
    if not saved_path.is_file():
        return
    saved = json.loads(saved_path.read_text(encoding="utf-8")).get("trained", {}).get("fingerprint")
    if saved and saved != data.trained.fingerprint:
        raise TrainingError(
            f"cannot resume {run_dir}: the training data changed since it started (fingerprint {saved[:12]} "
            f"then, {data.trained.fingerprint[:12]} now); start a new run instead"
        )


def _checkpoint_is_final(last: Path) -> bool:
    """True when ultralytics already finished training (it strips the optimizer from the final checkpoint)."""
    import torch

    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    return ckpt.get("optimizer") is None or ckpt.get("epoch", -1) < 0


def _dataset_record(data: TrainingData) -> dict[str, Any]:
    def describe(spec: Any) -> dict[str, Any]:
        return {
            "yaml": str(spec.yaml_path),
            "fingerprint": spec.fingerprint,
            "class_names": list(spec.class_names),
            "images": {split: len(paths) for split, paths in spec.splits.items()},
        }

    return {
        "trained": describe(data.trained),
        "source": describe(data.source),
        "train_positives": data.train_positives,
        "train_backgrounds": data.train_backgrounds,
    }


def _evaluate_split(
    weights: Path, data: TrainingData, split: str, config: TrainConfig, run_dir: Path, threads: int | None
) -> SplitMetrics:
    """ultralytics' validator on one split with the given weights, converted to SplitMetrics."""
    from ultralytics import YOLO

    model = YOLO(str(weights))
    if threads:
        model.add_callback("on_val_start", lambda _: __import__("torch").set_num_threads(threads))
    device = config.device_string().split(",")[0]
    started = time.perf_counter()
    result = model.val(
        data=str(data.yaml_path),
        split=split,
        imgsz=config.imgsz,
        batch=config.batch,
        device=device,
        workers=config.workers,
        project=str((run_dir / "eval").resolve()),
        name=split,
        exist_ok=True,
        plots=False,
        save_json=False,
        verbose=False,
    )
    elapsed = time.perf_counter() - started
    values = result.results_dict
    return SplitMetrics(
        split=split,
        images=len(data.trained.images(split)),
        precision=float(values["metrics/precision(B)"]),
        recall=float(values["metrics/recall(B)"]),
        map50=float(values["metrics/mAP50(B)"]),
        map50_95=float(values["metrics/mAP50-95(B)"]),
        wall_time_s=round(elapsed, 3),
    )


def _prepare_run_dir(config: TrainConfig, run_dir: Path, resume: bool, overwrite: bool) -> bool:
    """Check the run folder's state against resume/overwrite; return True when training resumes."""
    state = run_state(run_dir)
    if overwrite and run_dir.exists():
        shutil.rmtree(run_dir)
        state = "new"
    if state == "finished":
        raise TrainingError(
            f"run {run_dir} is already finished (metrics.json exists); pick another name, or pass --overwrite"
        )
    if state == "interrupted" and not resume:
        raise TrainingError(
            f"run {run_dir} was interrupted and has a checkpoint; pass --resume to continue it, "
            "or --overwrite"
        )
    if resume and state == "new":
        raise TrainingError(f"nothing to resume: {run_dir} has no weights/last.pt")
    if state == "interrupted":
        _check_resumable_config(config, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return state == "interrupted"


def train_model(
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: TrainingProgress | None = None,
) -> RunResult:
    """Train (or resume) the run `config` describes, evaluate it on val and test, and write its folder."""
    run_dir = config.run_dir.resolve()
    model_path = Path(config.model)
    if model_path.suffix.lower() == ".pt" and not model_path.is_file():
        raise ModelError(f"model weights not found: {model_path.resolve()}")
    prefer_passive_openmp()
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    start = inspect_start(config.model)  # a start ultralytics cannot train fails before the run folder exists
    check_freeze(config.freeze, start)
    resuming = _prepare_run_dir(config, run_dir, resume, overwrite)
    check_device(config)
    data = prepare_training_data(config, run_dir)
    if resuming:
        _check_same_data(run_dir, data)
    else:
        (run_dir / STATUS_FILE).unlink(missing_ok=True)  # a fresh start forgets earlier failed attempts
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(dump_config(config), sort_keys=False), encoding="utf-8"
    )
    _write_json(run_dir / "dataset.json", _dataset_record(data))
    from ultralytics import YOLO

    threads = cpu_threads() if not config.gpu_indices() else None
    record = {**environment(config.device_string(), threads), "start": start.to_dict()}
    _write_json(run_dir / "environment.json", record)
    last = run_dir / "weights" / "last.pt"
    already_trained = resuming and _checkpoint_is_final(last)

    if not already_trained:
        if resuming:
            model = YOLO(str(last))
        else:
            model = YOLO(config.model)
        for event, callback in training_callbacks(config, threads, progress).items():
            model.add_callback(event, callback)
        args = to_ultralytics_args(config)
        if resuming:
            args.update(resume=True, save_dir=str(run_dir))
        else:
            args.update(project=str(run_dir.parent), name=run_dir.name, exist_ok=True)
        _write_status(run_dir, "training", resumed=resuming)
        logger.info("%s %s on %s", "resuming" if resuming else "training", run_dir, config.device_string())
        started = time.perf_counter()
        try:
            with offline_amp_check(), results_csv_without_polars():
                model.train(data=str(data.yaml_path), **args)
        except KeyboardInterrupt:
            _add_train_seconds(run_dir, time.perf_counter() - started)
            _write_status(run_dir, "interrupted")
            if last.is_file():
                logger.warning("interrupted; continue with --resume (the last finished epoch is kept)")
            else:
                logger.warning("interrupted before the first epoch finished; run again to start over")
            raise
        except BonefracError:
            raise
        except Exception as exc:
            _add_train_seconds(run_dir, time.perf_counter() - started)
            _write_status(run_dir, "failed", error=f"{type(exc).__name__}: {exc}")
            raise TrainingError(f"training {run_dir} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            if progress is not None:
                progress.close()
        _add_train_seconds(run_dir, time.perf_counter() - started)
    return _finish_run(config, run_dir, data, threads, start, resumed=resuming)


def _add_train_seconds(run_dir: Path, seconds: float) -> None:
    total = float(_read_status(run_dir).get("train_wall_time_s", 0.0)) + seconds
    _write_status(run_dir, _read_status(run_dir).get("state", "training"), train_wall_time_s=round(total, 3))


def _finish_run(
    config: TrainConfig,
    run_dir: Path,
    data: TrainingData,
    threads: int | None,
    start: StartRecord,
    resumed: bool,
) -> RunResult:
    """Per-epoch metrics, val/test evaluation of best.pt, metrics.json; the run is finished after this."""
    best, last = run_dir / "weights" / "best.pt", run_dir / "weights" / "last.pt"
    if not best.is_file():
        best = last
    if not best.is_file():
        raise TrainingError(f"training finished but wrote no weights under {run_dir / 'weights'}")
    rows = read_epoch_rows(run_dir / "results.csv")
    write_epochs_jsonl(rows, run_dir / "epochs.jsonl")
    _write_status(run_dir, "evaluating")
    splits = ["val"] + (["test"] if data.trained.splits.get("test") else [])
    metrics = {split: _evaluate_split(best, data, split, config, run_dir, threads) for split in splits}
    train_seconds = float(_read_status(run_dir).get("train_wall_time_s", 0.0))
    version = code_version()
    record = {
        "schema_version": METRICS_SCHEMA_VERSION,
        "experiment": config.experiment,
        "name": config.run_name,
        "cell": config.cell,
        "seed": config.seed,
        "model": config.model,
        "imgsz": config.imgsz,
        "start": start.to_dict(),
        "weights": str(best.relative_to(run_dir)),
        "epochs_completed": len(rows),
        "train_wall_time_s": train_seconds,
        "dataset_fingerprint": data.trained.fingerprint,
        "code_version": version,
        "finished_at": datetime.now(UTC).isoformat(),
        **{split: m.to_dict() for split, m in metrics.items()},
    }
    _write_json(run_dir / METRICS_FILE, record)
    _write_status(run_dir, "finished")
    return RunResult(
        run_dir=run_dir,
        config=dump_config(config),
        best_weights=best,
        last_weights=last,
        metrics=metrics,
        dataset_fingerprint=data.trained.fingerprint,
        code_version=version,
        epochs_completed=len(rows),
        train_wall_time_s=train_seconds,
        resumed=resumed,
    )
