"""Start inspection: what a run starts from, its credit, and the checkpoints that fail before training.

Every checkpoint here is built in the test (tiny ultralytics models saved with torch.save); only the
`shared`-marked tests read ../shared/pretrained and skip without it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from bonefrac.errors import ConfigError, ModelError
from bonefrac.hashing import file_sha256
from bonefrac.train.starts import (
    KNOWN_STARTS_FILE,
    KnownStart,
    StartRecord,
    check_freeze,
    inspect_start,
    load_known_starts,
)

torch = pytest.importorskip("torch")

REPO_ROOT = Path(__file__).resolve().parents[2]
PRETRAINED = REPO_ROOT.parent / "shared" / "pretrained"
U_START_SHA = "f8decb77b1b492a4b92c8eaae021cd3ec9c1dc515dc7fb89bda8e7e9d0729c76"
ORIGINAL_SHA = "4f180cf23ba0717ada0badd6c685026d73d48f184d00fc159c2641284b2ac0a3"
CREDIT = "backbone and neck initialised from Ultralytics YOLOv5n v7.0 COCO weights (AGPL-3.0)"


@pytest.fixture(scope="module", autouse=True)
def _ultralytics_offline() -> None:
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()


def save_model(path: Path, cfg: str, **kwargs) -> Path:  # type: ignore[no-untyped-def]
    """A checkpoint the way ultralytics writes one: {'model': <task model>, 'train_args': {...}}."""
    from ultralytics.nn import tasks

    model_class = {
        "detect": tasks.DetectionModel,
        "classify": tasks.ClassificationModel,
        "segment": tasks.SegmentationModel,
        "pose": tasks.PoseModel,
    }[kwargs.pop("task", "detect")]
    torch.manual_seed(0)
    model = model_class(cfg, verbose=False, **kwargs)
    torch.save({"model": model.half(), "train_args": {}}, path)
    return path


@pytest.fixture(scope="module")
def detect_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(tmp_path_factory.mktemp("start") / "coco_like.pt", "yolov5n.yaml", nc=3)


def test_known_starts_registry_holds_both_shared_files():
    known = load_known_starts()
    assert set(known) == {U_START_SHA, ORIGINAL_SHA}
    u_start, original = known[U_START_SHA], known[ORIGINAL_SHA]
    assert (u_start.name, u_start.credit, u_start.license) == (
        "coco_yolov5nu_backbone_neck.pt",
        CREDIT,
        "AGPL-3.0",
    )
    assert u_start.trainable and u_start.size_bytes == 5_530_808
    assert not original.trainable and "coco_yolov5nu_backbone_neck.pt" in (original.use_instead or "")
    assert all(e.source and e.architecture for e in known.values())
    assert KNOWN_STARTS_FILE.parent == Path(sys.modules["bonefrac.train.starts"].__file__).parent


def test_yaml_start_is_recorded_as_random_init():
    start = inspect_start("yolo11n.yaml")
    assert (start.kind, start.init, start.credit, start.sha256) == ("architecture", "random", None, None)
    assert start.layers == 24  # yolo11: 11 backbone + 13 head entries


def test_known_pt_start_is_credited(detect_pt):
    digest = file_sha256(detect_pt)
    entry = KnownStart(
        sha256=digest,
        name="coco_like.pt",
        architecture="YOLOv5n-u",
        credit="credit line",
        license="MIT",
        source="a test",
    )
    start = inspect_start(str(detect_pt), known={digest: entry})
    assert (start.kind, start.init, start.known, start.task) == ("weights", "pretrained", True, "detect")
    assert (start.credit, start.license, start.name, start.source) == (
        "credit line",
        "MIT",
        "coco_like.pt",
        "a test",
    )
    assert (start.sha256, start.size_bytes, start.path) == (
        digest,
        detect_pt.stat().st_size,
        str(detect_pt.resolve()),
    )
    assert (start.layers, start.classes) == (25, 3)
    assert set(start.to_dict()) >= {"path", "sha256", "size_bytes", "credit", "license", "source"}


def test_unknown_pt_is_recorded_without_credit_and_warned(detect_pt, caplog):
    with caplog.at_level(logging.WARNING, logger="bonefrac.train.starts"):
        start = inspect_start(str(detect_pt), known={})
    assert (start.known, start.credit, start.sha256) == (False, None, file_sha256(detect_pt))
    assert start.architecture == "yolov5n"
    assert "not among the known starting weights" in caplog.text and "credit: null" in caplog.text


@pytest.mark.parametrize(
    ("task", "cfg"),
    [("classify", "yolo11n-cls.yaml"), ("segment", "yolo11n-seg.yaml"), ("pose", "yolo11n-pose.yaml")],
)
def test_non_detection_checkpoint_is_refused(tmp_path, task, cfg):
    path = save_model(tmp_path / f"{task}.pt", cfg, task=task)
    with pytest.raises(
        ModelError, match=rf"is a '{task}' model .*not a detector.*Accepted: an ultralytics detection"
    ):
        inspect_start(str(path), known={})


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (b"", "EOFError"),
        (b"plain text, not a checkpoint\n", "UnpicklingError"),
        (b"PK\x03\x04 broken zip", ""),
    ],
)
def test_file_that_is_no_torch_checkpoint_is_refused(tmp_path, content, found):
    path = tmp_path / "weights.pt"
    path.write_bytes(content)
    with pytest.raises(
        ModelError, match=rf"not a readable torch checkpoint \({found}.*accepted: an ultralytics"
    ):
        inspect_start(str(path), known={})


def test_state_dict_without_model_is_refused(tmp_path):
    from ultralytics.nn.tasks import DetectionModel

    path = tmp_path / "state.pt"
    torch.save(DetectionModel("yolov5n.yaml", nc=1, verbose=False).state_dict(), path)
    with pytest.raises(ModelError, match=r"holds no model \(\d+ keys: \['model\.0\.conv\.weight'"):
        inspect_start(str(path), known={})


def test_yolov5_repository_pickle_is_refused_with_the_u_start_named(tmp_path, monkeypatch):
    """A pickle of the YOLOv5 repository's classes (module `models.yolo`), like yolov5n.pt v7.0."""
    package = tmp_path / "yolov5repo" / "models"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "yolo.py").write_text("import torch\n\nclass DetectionModel(torch.nn.Module):\n    pass\n")
    monkeypatch.syspath_prepend(str(package.parent))
    import models.yolo  # type: ignore[import-not-found]

    path = tmp_path / "v5_original.pt"
    torch.save({"model": models.yolo.DetectionModel(), "epoch": -1}, path)
    for name in [n for n in sys.modules if n == "models" or n.startswith("models.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(package.parent)])

    with pytest.raises(
        ModelError, match=r"YOLOv5-repository pickle.*not forwards compatible.*coco_yolov5nu_backbone_neck"
    ):
        inspect_start(str(path), known={})


def test_known_untrainable_file_is_refused_by_its_hash(tmp_path):
    path = tmp_path / "renamed_anything.pt"
    path.write_bytes(b"stand-in bytes for the original YOLOv5 pickle")
    digest = file_sha256(path)
    entry = KnownStart(
        sha256=digest,
        name="original.pt",
        architecture="YOLOv5n",
        credit="c",
        license="GPL-3.0",
        source="s",
        trainable=False,
        refusal="a YOLOv5-repository pickle",
        use_instead="coco_yolov5nu_backbone_neck.pt",
    )
    with pytest.raises(
        ModelError, match=r"is original.pt \(YOLOv5n\): a YOLOv5-repository pickle; use coco_yolov5nu"
    ):
        inspect_start(str(path), known={digest: entry})


@pytest.mark.parametrize(
    ("name", "renamed"), [("yolov5n.pt", "yolov5nu.pt"), ("yolov3-tiny.pt", "yolov3-tinyu.pt")]
)
def test_hub_model_file_names_are_refused(tmp_path, detect_pt, name, renamed):
    path = tmp_path / name
    path.write_bytes(detect_pt.read_bytes())
    with pytest.raises(
        ModelError, match=rf"renames it to '{renamed}' and tries to download that.*Rename the file"
    ):
        inspect_start(str(path), known={})


def test_missing_pt_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="model weights not found"):
        inspect_start(str(tmp_path / "absent.pt"))


def test_check_freeze_names_the_layer_count():
    start = StartRecord(
        kind="architecture", model="yolov5n.yaml", init="random", layers=25, architecture="yolov5n"
    )
    check_freeze(0, start)
    check_freeze(10, start)
    check_freeze(24, start)
    with pytest.raises(
        ConfigError,
        match=r"freeze: 25 .*yolov5n has 25 layers \(0-24, the Detect head last\); freeze at most 24",
    ):
        check_freeze(25, start)


@pytest.fixture
def shared_pretrained() -> Path:
    if not (PRETRAINED / "coco_yolov5nu_backbone_neck.pt").is_file():
        pytest.skip(f"starting weights not found in {PRETRAINED} (place shared/ beside the repo)")
    return PRETRAINED


@pytest.mark.shared
def test_shared_u_start_is_known_and_credited(shared_pretrained):
    start = inspect_start(str(shared_pretrained / "coco_yolov5nu_backbone_neck.pt"))
    assert (start.sha256, start.known, start.credit, start.layers) == (U_START_SHA, True, CREDIT, 25)


@pytest.mark.shared
def test_shared_original_pickle_is_refused(shared_pretrained):
    original = shared_pretrained / "coco_yolov5n_v7.0_original.pt"
    assert file_sha256(original) == ORIGINAL_SHA
    with pytest.raises(ModelError, match="not forwards compatible; use coco_yolov5nu_backbone_neck.pt"):
        inspect_start(str(original))
