"""Runner checks that fail before any training starts (fast: no model is trained)."""

import pytest

from bonefrac.errors import ConfigError, DatasetError, ModelError, TrainingError
from bonefrac.train.config import build_train_config
from bonefrac.train.runner import train_model


def tiny(tmp_path, **extra):  # type: ignore[no-untyped-def]
    data = {"runs_dir": str(tmp_path / "runs"), "synthetic": {"images": 6, "size": 32}, "imgsz": 32, **extra}
    return build_train_config(data, "t")


def test_gpu_request_without_gpu_fails_clearly(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(TrainingError, match=r"asks for GPU\(s\) \[0, 1\].*no CUDA GPU"):
        train_model(tiny(tmp_path, device=[0, 1]))


def test_missing_pt_weights_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="model weights not found"):
        train_model(tiny(tmp_path, model=str(tmp_path / "nope.pt")))


def test_missing_data_yaml_is_a_dataset_error(tmp_path):
    config = build_train_config(
        {"runs_dir": str(tmp_path / "runs"), "data": str(tmp_path / "none.yaml")}, "t"
    )
    with pytest.raises(DatasetError, match="data.yaml not found"):
        train_model(config)


def test_resume_without_checkpoint_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="nothing to resume"):
        train_model(tiny(tmp_path), resume=True)


def test_freeze_beyond_the_model_fails_before_the_run_folder_exists(tmp_path):
    config = tiny(tmp_path, freeze=30)
    with pytest.raises(ConfigError, match=r"freeze: 30 .*yolo11n has 24 layers \(0-23"):
        train_model(config)
    assert not config.run_dir.exists()


def test_classifier_checkpoint_fails_before_the_run_folder_exists(tmp_path):
    torch = pytest.importorskip("torch")
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics.nn.tasks import ClassificationModel

    weights = tmp_path / "classifier.pt"
    torch.save({"model": ClassificationModel("yolo11n-cls.yaml", nc=2, verbose=False)}, weights)
    config = tiny(tmp_path, model=str(weights))
    with pytest.raises(ModelError, match=r"is a 'classify' model .*not a detector"):
        train_model(config)
    assert not config.run_dir.exists()
