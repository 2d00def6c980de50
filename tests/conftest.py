"""Shared fixtures: a tiny synthetic YOLO data set, the FracAtlas path (skips when absent), no network."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FRACATLAS = Path(os.environ.get("BONEFRAC_FRACATLAS", REPO_ROOT.parent / "shared" / "data" / "fracatlas"))

# Tool state (ultralytics config dir, fonts) in an ignored folder of the checkout, never in $HOME.
os.environ.setdefault("BONEFRAC_CACHE", str(REPO_ROOT / ".cache" / "bonefrac"))
os.environ.setdefault("MPLBACKEND", "Agg")
# Idle OpenMP threads sleep instead of spinning: on a shared 2-core CI machine spinning made 2 torch threads
# several times slower than 1 (measured in bench/bench_train.py runs).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_real_connect = socket.socket.connect


def _loopback_only_connect(self: socket.socket, address, *args, **kwargs):  # type: ignore[no-untyped-def]
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and (host.startswith("127.") or host in ("localhost", "::1", ""))
        or (self.family == socket.AF_UNIX)
    ):
        return _real_connect(self, address, *args, **kwargs)
    raise RuntimeError(f"network access attempted during tests: {address!r} (only loopback is allowed)")


@pytest.fixture(autouse=True, scope="session")
def _no_network():
    """Any connection outside loopback fails loudly: nothing may be downloaded at run time."""
    socket.socket.connect = _loopback_only_connect  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data.yaml of a 30-image synthetic data set (128 px), shared by the session; do not modify it."""
    from bonefrac.data.synth import write_synthetic_dataset

    return write_synthetic_dataset(tmp_path_factory.mktemp("synth"), images=30, seed=0, size=128).yaml_path


@pytest.fixture
def fracatlas_yaml() -> Path:
    """../shared/data/fracatlas/data.yaml, or skip with the reason."""
    path = FRACATLAS / "data.yaml"
    if not path.is_file():
        pytest.skip(
            f"FracAtlas not found at {FRACATLAS} (set BONEFRAC_FRACATLAS or place shared/ beside the repo)"
        )
    return path


@pytest.fixture(scope="session")
def tiny_pt_weights(tmp_path_factory: pytest.TempPathFactory, synthetic_dataset: Path) -> Path:
    """A real YOLO11n .pt, 1 epoch at imgsz 64 on the synthetic set (untrained quality; for plumbing)."""
    import torch

    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    torch.manual_seed(0)
    model = YOLO("yolo11n.yaml")
    project = tmp_path_factory.mktemp("tiny_model")
    model.train(
        data=str(synthetic_dataset),
        epochs=1,
        imgsz=64,
        batch=8,
        device="cpu",
        workers=0,
        project=str(project),
        name="run",
        exist_ok=True,
        plots=False,
        val=False,
        amp=False,
        verbose=False,
        seed=0,
        deterministic=True,
    )
    weights = project / "run" / "weights" / "last.pt"
    if not weights.is_file():
        raise RuntimeError(f"tiny training wrote no weights at {weights}")
    return weights


@pytest.fixture(scope="session")
def tiny_onnx_model(tmp_path_factory: pytest.TempPathFactory, tiny_pt_weights: Path) -> Path:
    """tiny_pt_weights exported to ONNX at imgsz 64 by ultralytics' exporter (no NMS inside)."""
    import shutil

    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    exported = Path(YOLO(str(tiny_pt_weights)).export(format="onnx", imgsz=64, simplify=False, dynamic=False))
    target = tmp_path_factory.mktemp("tiny_onnx") / "model.onnx"
    shutil.copyfile(exported, target)
    return target


@pytest.fixture(scope="session")
def tiny_classifier_run(tmp_path_factory: pytest.TempPathFactory, synthetic_dataset: Path) -> Path:
    """A finished classifier run folder: 2 epochs at imgsz 64 on the synthetic set (for plumbing)."""
    from bonefrac.classify.config import ClassifierConfig
    from bonefrac.classify.trainer import train_classifier

    config = ClassifierConfig(
        data=str(synthetic_dataset),
        runs_dir=str(tmp_path_factory.mktemp("classifier_runs")),
        imgsz=64,
        epochs=2,
        batch=8,
        threads=1,
        bootstrap=50,
    )
    return train_classifier(config).run_dir


@pytest.fixture(scope="session")
def tiny_classifier_onnx(tmp_path_factory: pytest.TempPathFactory, tiny_classifier_run: Path) -> Path:
    """tiny_classifier_run exported to classifier.onnx (+ classifier_card.json), parity-checked."""
    from bonefrac.classify.export import export_classifier
    from bonefrac.export.samples import synthetic_samples

    out = tmp_path_factory.mktemp("tiny_classifier")
    result = export_classifier(tiny_classifier_run / "weights" / "best.pt", out, synthetic_samples(4))
    return result.onnx_path
