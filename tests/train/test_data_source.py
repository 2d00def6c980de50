from pathlib import Path

import pytest
import yaml

from bonefrac.data.synth import write_synthetic_dataset
from bonefrac.data.yolo_format import load_dataset
from bonefrac.train.config import build_train_config
from bonefrac.train.data_source import (
    ensure_synthetic_data,
    has_boxes,
    prepare_training_data,
    write_background_subset,
)
from bonefrac.train.experiments import expand_matrix, load_experiment


def test_background_subset_keeps_all_positives_and_a_seeded_share(tmp_path):
    source_yaml = write_synthetic_dataset(tmp_path / "src", images=40, seed=1, size=48, background_share=0.5)
    spec = load_dataset(source_yaml.yaml_path)
    train = spec.images("train")
    positives = {p for p in train if has_boxes(p)}
    backgrounds = {p for p in train if not has_boxes(p)}
    assert positives and len(backgrounds) >= 4

    subset = load_dataset(write_background_subset(spec, 0.5, seed=3, out_dir=tmp_path / "a"))
    kept = set(subset.images("train"))
    assert positives <= kept
    assert len(kept & backgrounds) == round(len(backgrounds) * 0.5)
    assert subset.splits["val"] == spec.splits["val"] and subset.splits["test"] == spec.splits["test"]

    again = load_dataset(write_background_subset(spec, 0.5, seed=3, out_dir=tmp_path / "b"))
    assert again.images("train") == subset.images("train")  # seeded
    none = load_dataset(write_background_subset(spec, 0.0, seed=3, out_dir=tmp_path / "c"))
    assert set(none.images("train")) == positives


def test_synthetic_source_is_written_once_under_the_experiment(tmp_path):
    config = build_train_config(
        {"runs_dir": str(tmp_path / "runs"), "experiment": "e", "synthetic": {"images": 12, "size": 48}}, "t"
    )
    first = ensure_synthetic_data(config, config.synthetic)
    assert first.is_relative_to(tmp_path / "runs" / "e" / "_data")
    stamp = first.stat().st_mtime_ns
    assert ensure_synthetic_data(config, config.synthetic) == first
    assert first.stat().st_mtime_ns == stamp


def test_subset_block_trains_on_positive_train_images_only(tmp_path):
    source = write_synthetic_dataset(tmp_path / "src", images=30, seed=2, size=48, background_share=0.4)
    runs = str(tmp_path / "runs")
    data = {
        "data": str(source.yaml_path),
        "runs_dir": runs,
        "subset": {"positive_only": True, "filter_splits": ["train"]},
    }
    prepared = prepare_training_data(build_train_config(data, "t"), tmp_path / "run")
    assert prepared.train_backgrounds == 0 and prepared.train_positives > 0
    assert prepared.trained.yaml_path.is_relative_to((tmp_path / "runs" / "default" / "_data").resolve())
    assert len(prepared.trained.images("val")) == len(prepared.source.images("val"))
    again = prepare_training_data(build_train_config(data, "t"), tmp_path / "run2")
    assert again.trained.yaml_path == prepared.trained.yaml_path  # written once, reused


def test_prepare_training_data_with_background_ratio_writes_into_run_dir(tmp_path):
    source = write_synthetic_dataset(tmp_path / "src", images=30, seed=2, size=48, background_share=0.4)
    config = build_train_config({"data": str(source.yaml_path), "background_ratio": 0.0}, "t")
    data = prepare_training_data(config, tmp_path / "run")
    assert data.yaml_path == (tmp_path / "run" / "data" / "data.yaml").resolve()
    assert data.train_backgrounds == 0 and data.train_positives > 0
    assert data.trained.fingerprint != data.source.fingerprint
    body = yaml.safe_load(data.yaml_path.read_text())
    assert body["names"] == {0: "fractured"}


@pytest.mark.fracatlas
def test_seed_matrix_data_sources_resolve_on_fracatlas(fracatlas_yaml, tmp_path, monkeypatch):
    repo = Path(__file__).resolve().parents[2]
    # seed.yaml names ../shared/data/fracatlas relative to the repository root, whose parent holds shared/;
    # run from a folder with that same parent, wherever this checkout lives.
    folder = fracatlas_yaml.resolve().parent
    if (folder.parent.name, folder.parent.parent.name) != ("data", "shared"):
        pytest.skip(f"seed.yaml expects FracAtlas at <root>/shared/data/fracatlas, not {folder}")
    monkeypatch.chdir(folder.parents[1])
    matrix = load_experiment(repo / "configs" / "experiments" / "seed.yaml")
    runs = f"runs_dir={tmp_path / 'runs'}"  # subsets go to tmp, not into the checkout
    planned = {p.cell: p.config for p in expand_matrix(matrix, "seed.yaml", overrides=[runs])}
    full = prepare_training_data(planned["baseline"], tmp_path / "baseline")
    positive = prepare_training_data(planned["positive_only"], tmp_path / "positive")
    official = prepare_training_data(planned["fracture_split"], tmp_path / "official")
    quarter = prepare_training_data(planned["background_25"], tmp_path / "bg25")
    assert positive.train_backgrounds == 0 and positive.train_positives == full.train_positives
    assert len(positive.trained.images("val")) == len(full.trained.images("val"))
    assert official.train_backgrounds == 0 and official.train_positives == 574
    assert quarter.train_positives == full.train_positives
    assert quarter.train_backgrounds == round(full.train_backgrounds * 0.25)
    assert quarter.trained.splits["val"] == full.trained.splits["val"]
