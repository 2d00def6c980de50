"""Shared fixtures: a tiny synthetic YOLO data set, the FracAtlas path (skips when absent), dciodvfy."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
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


@pytest.fixture
def shipped_folder(tiny_onnx_model: Path, tmp_path: Path) -> Path:
    """A model folder as `bonefrac export` and an evaluation on val leave it: tiny_onnx_model as model.onnx
    and a card whose operating point was chosen on val."""
    from bonefrac.card.record import ModelCard, OperatingPoint, write_model_card
    from bonefrac.hashing import file_sha256

    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copyfile(tiny_onnx_model, folder / "model.onnx")
    point = OperatingPoint(threshold=0.1065, rule="max_f1", split="val", sensitivity=0.9, specificity=0.5)
    card = ModelCard(
        name="shipped",
        version="1",
        class_names=["fractured"],
        input_size=64,
        operating_point=point,
        weights_sha256=file_sha256(folder / "model.onnx"),
    )
    write_model_card(card, folder / "model_card.json")
    return folder


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


@dataclass(frozen=True)
class PairReference:
    """The tiny detector + classifier pair, measured on one synthetic radiograph by the engines themselves.

    The barely trained detector finds one clear box and a few much weaker ones on every image.
    `points(call)` gives operating points chosen from these numbers, far from every measured value, so that
    the image gets exactly that call, its strongest box solid and the weaker ones dashed (`dashed=False`:
    dropped)."""

    image: Path
    confidences: tuple[float, ...]  # the detector's boxes at the analyser's score floor, strongest first
    probability: float  # the classifier's fracture probability
    weight: float = 0.5

    @property
    def score(self) -> float:
        return self.weight * self.probability + (1 - self.weight) * self.confidences[0]

    @property
    def solid_box_threshold(self) -> float:
        """Between the strongest box and the next."""
        return (self.confidences[0] + self.confidences[1]) / 2

    def points(self, call: str = "high_specificity", *, dashed: bool = True) -> Any:
        from bonefrac.card.record import OperatingPoints, Tier

        spec_box = self.solid_box_threshold
        sens_box = self.confidences[-1] / 2 if dashed else spec_box
        s = self.score
        spec_image, sens_image = {
            "high_specificity": (0.9 * s, 0.45 * s),
            "high_sensitivity": (1.1 * s, 0.9 * s),
            "negative": (min(1.0, 1.2 * s), 1.1 * s),
        }[call]
        return OperatingPoints(
            image_score="fused",
            classifier_weight=self.weight,
            split="val",
            high_specificity=Tier(
                image_threshold=spec_image, box_threshold=spec_box, target="specificity>=0.9"
            ),
            high_sensitivity=Tier(
                image_threshold=sens_image, box_threshold=sens_box, target="sensitivity>=0.9"
            ),
        )


@pytest.fixture(scope="session")
def tiny_pair_reference(
    tiny_onnx_model: Path, tiny_classifier_onnx: Path, synthetic_dataset: Path
) -> PairReference:
    """tiny_onnx_model and tiny_classifier_onnx measured on the first synthetic radiograph with one box far
    stronger than the others (so thresholds between them hold whatever the thread count)."""
    from bonefrac.imaging.io import load_image
    from bonefrac.infer.analysis import SCORE_FLOOR
    from bonefrac.infer.classifier import FractureClassifier
    from bonefrac.infer.predictor import Predictor

    detector, classifier = Predictor(tiny_onnx_model), FractureClassifier(tiny_classifier_onnx)
    for path in sorted((synthetic_dataset.parent / "images").rglob("*.png")):
        image = load_image(path)
        confidences = detector.predict(image, conf=SCORE_FLOOR).confidence.tolist()
        if (
            len(confidences) >= 2
            and confidences[0] > 1.5 * confidences[1]
            and confidences[-1] > 2 * SCORE_FLOOR
        ):
            return PairReference(path, tuple(confidences), classifier.probability(image))
    raise RuntimeError("no synthetic image gives the tiny detector one box far stronger than the next")


@pytest.fixture
def tiered_model(
    tmp_path: Path, tiny_onnx_model: Path, tiny_classifier_onnx: Path, tiny_pair_reference: PairReference
) -> Callable[..., Path]:
    """Factory: tiered_model(points=..., classifier=True, classifier_sha256=None, stand_in=False,
    threshold=0.3) -> the model.onnx path.

    A folder holding the tiny detector, the tiny classifier (with its classifier_card.json) and a
    model_card.json naming the classifier and carrying `points` (default: the reference image called
    high_specificity; None: no tiers). `classifier=False` leaves the classifier out of the card."""
    import shutil

    from bonefrac.card.classifier import CLASSIFIER_CARD_FILENAME
    from bonefrac.card.record import ClassifierRef, OperatingPoint, card_path_for, write_model_card
    from bonefrac.hashing import file_sha256
    from bonefrac.infer.predictor import Predictor

    made = iter(range(1000))
    default = object()

    def make(
        points: Any = default,
        *,
        classifier: bool = True,
        classifier_sha256: str | None = None,
        stand_in: bool = False,
        threshold: float = 0.3,
    ) -> Path:
        folder = tmp_path / f"tiered-{next(made)}"
        folder.mkdir()
        model = folder / "model.onnx"
        shutil.copyfile(tiny_onnx_model, model)
        shutil.copyfile(tiny_classifier_onnx, folder / "classifier.onnx")
        shutil.copyfile(
            tiny_classifier_onnx.parent / CLASSIFIER_CARD_FILENAME, folder / CLASSIFIER_CARD_FILENAME
        )
        ref = ClassifierRef(
            sha256=classifier_sha256 or file_sha256(tiny_classifier_onnx), version="tiny-2ep", input_size=64
        )
        card = Predictor(tiny_onnx_model).card.model_copy(
            update={
                "name": "tiny-tiered",
                "version": "0.0.2",
                "weights_sha256": file_sha256(model),
                "operating_point": OperatingPoint(threshold=threshold, rule="max_f1", split="val"),
                "classifier": ref if classifier else None,
                "operating_points": tiny_pair_reference.points() if points is default else points,
                "stand_in": stand_in,
            }
        )
        write_model_card(card, card_path_for(model))
        return model

    return make


@pytest.fixture(scope="session")
def dciodvfy():
    """Run dciodvfy on a file; return its error lines (warnings are allowed). Skips where it is missing."""
    executable = shutil.which("dciodvfy")
    if executable is None:
        pytest.skip("dciodvfy (Debian dicom3tools) is not installed; `make test` installs it as root")

    def errors(path: Path) -> list[str]:
        run = subprocess.run([executable, str(path)], capture_output=True, text=True, timeout=60)
        return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]

    return errors
