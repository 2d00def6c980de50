from pathlib import Path

import pytest
import yaml

from bonefrac.errors import ConfigError
from bonefrac.train.config import dump_config
from bonefrac.train.experiments import (
    ExperimentFile,
    expand_matrix,
    load_experiment,
    run_experiment,
    select_cells,
)

REPO = Path(__file__).resolve().parents[2]


def matrix(tmp_path: Path, **extra) -> ExperimentFile:  # type: ignore[no-untyped-def]
    data = {
        "experiment": "m",
        "seeds": [0, 1],
        "base": {"data": "d.yaml", "epochs": 3, "runs_dir": str(tmp_path / "runs")},
        "variants": {"baseline": {}, "pos": {"data": "pos.yaml"}, "aug": {"augment.degrees": 15}},
        "sweeps": {
            "dfl": {"key": "loss.dfl", "values": [2.0, 2.5]},
            "scale": {"key": "model", "values": ["yolo11s.yaml", "yolo11m.yaml"], "labels": ["s", "m"]},
        },
        **extra,
    }
    return ExperimentFile.model_validate(data)


def test_expand_matrix_cells_times_seeds(tmp_path):
    planned = expand_matrix(matrix(tmp_path), "m.yaml")
    cells = ["baseline", "pos", "aug", "dfl-2.0", "dfl-2.5", "scale-s", "scale-m"]
    assert [(p.cell, p.seed) for p in planned] == [(c, s) for c in cells for s in (0, 1)]
    by_name = {p.config.run_name: p.config for p in planned}
    assert by_name["pos-s1"].data == "pos.yaml" and by_name["pos-s1"].seed == 1
    assert by_name["aug-s0"].augment.degrees == 15
    assert by_name["dfl-2.5-s0"].loss.dfl == 2.5 and by_name["baseline-s0"].loss.dfl == 1.5
    assert by_name["scale-m-s0"].model == "yolo11m.yaml"
    assert by_name["baseline-s0"].run_dir == tmp_path / "runs" / "m" / "baseline-s0"
    assert all(c.experiment == "m" and c.epochs == 3 for c in by_name.values())


def test_expand_matrix_only_seeds_and_overrides(tmp_path):
    planned = expand_matrix(
        matrix(tmp_path), "m.yaml", only=["dfl-*", "pos"], seeds=3, overrides=["epochs=1"]
    )
    assert [(p.cell, p.seed) for p in planned] == [
        (c, s) for c in ("pos", "dfl-2.0", "dfl-2.5") for s in range(3)
    ]
    assert {p.config.epochs for p in planned} == {1}


def test_select_cells_unknown_name_suggests_closest():
    with pytest.raises(ConfigError, match=r"no cell matches 'baseln'; did you mean 'baseline'\?"):
        select_cells(["baseline", "pos"], ["baseln"])


def test_expand_matrix_bad_cell_names_the_cell(tmp_path):
    bad = matrix(tmp_path, variants={"typo": {"epoch": 3}})
    with pytest.raises(ConfigError, match=r"(?s)cell 'typo'.*did you mean 'epochs'"):
        expand_matrix(bad, "m.yaml")


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        ({"base": {"seed": 1}}, "base must not set"),
        ({"variants": {}, "sweeps": {}}, "at least one entry"),
        ({"sweeps": {"x": {"key": "loss.dfl", "values": [1, 2], "labels": ["a"]}}}, "one entry per value"),
        ({"cells": {}}, "unknown key 'cells'"),
    ],
)
def test_experiment_file_validation(tmp_path, extra, pattern):
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"experiment": "m", "variants": {"a": {}}, **extra}))
    with pytest.raises(ConfigError, match=pattern):
        load_experiment(path)


def test_run_experiment_skips_finished_and_resumes_interrupted(tmp_path, run_folder_factory):
    run_folder_factory("m", "baseline", 0, 0.3)  # finished
    run_folder_factory("m", "baseline", 1, None, checkpoint=True)  # interrupted
    planned = expand_matrix(matrix(tmp_path), "m.yaml", only=["baseline", "pos"])
    calls = []
    outcomes = run_experiment(planned, lambda config, resume: calls.append((config.run_name, resume)))
    assert [(o.cell, o.seed, o.action) for o in outcomes] == [
        ("baseline", 0, "skip"),
        ("baseline", 1, "resume"),
        ("pos", 0, "train"),
        ("pos", 1, "train"),
    ]
    assert calls == [("baseline-s1", True), ("pos-s0", False), ("pos-s1", False)]


@pytest.mark.parametrize("name", ["seed.yaml", "smoke.yaml", "default_model.yaml", "default_model_cpu.yaml"])
def test_shipped_matrices_expand(name):
    planned = expand_matrix(load_experiment(REPO / "configs" / "experiments" / name), name)
    assert planned


def test_default_model_matrix_holds_every_cell_to_the_anchor_budget():
    planned = expand_matrix(load_experiment(REPO / "configs" / "experiments" / "default_model.yaml"), "dm")
    assert {p.config.cell for p in planned} >= {"anchor", "recipe_bg25_cos"}
    assert {p.config.budget_hours for p in planned} == {0.1208}


def test_shipped_detector_recipe_is_the_pretrained_matrix_cell():
    """The cell the shipped card names agrees with the card: start, input size, val without train copies."""
    from bonefrac.card.record import read_model_card

    card = read_model_card(REPO / "deploy" / "model" / "model_card.json")
    planned = expand_matrix(
        load_experiment(REPO / "configs" / "experiments" / "pretrained.yaml"), "pretrained.yaml"
    )
    (shipped,) = [p for p in planned if p.config.cell == "coco_480_bg20"]
    text = (REPO / "deploy" / "model" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "cell `coco_480_bg20` in `configs/experiments/pretrained.yaml`" in text
    assert "from `coco_yolov5nu_backbone_neck.pt` (sha256" in text
    assert shipped.config.device == "cpu" and shipped.config.imgsz == card.input_size
    assert shipped.config.subset is not None and shipped.config.subset.drop_duplicates_of_train
    assert shipped.config.model.endswith("coco_yolov5nu_backbone_neck.pt")


def test_seed_matrix_covers_every_seed_experiment():
    planned = expand_matrix(load_experiment(REPO / "configs" / "experiments" / "seed.yaml"), "seed.yaml")
    configs = [p.config for p in planned]
    assert {c.model for c in configs} >= {"yolo11n.yaml", "yolo11s.yaml", "yolo11m.yaml", "yolo11l.yaml"}
    assert {c.loss.dfl for c in configs} >= {1.5, 2.0, 2.5}
    assert any(c.data and "fractured_only" in c.data for c in configs)
    assert any(c.subset is not None and c.subset.positive_only for c in configs)
    assert any(c.multi_scale > 0 for c in configs)
    assert any(c.optimizer.cos_lr for c in configs)
    assert any(c.augment.degrees > 0 and c.augment.flipud > 0 for c in configs)


def test_pretrained_matrix_cells_change_one_thing_from_coco_320():
    planned = expand_matrix(load_experiment(REPO / "configs" / "experiments" / "pretrained.yaml"), "pt")
    configs = {p.cell: dump_config(p.config) for p in planned}
    coco = configs["coco_320"]
    assert coco["model"].endswith("coco_yolov5nu_backbone_neck.pt") and coco["imgsz"] == 320
    assert (coco["epochs"], coco["background_ratio"], coco["freeze"]) == (45, 0.1, 0)

    def changed(cell: str) -> set[str]:
        return {k for k, v in configs[cell].items() if v != coco[k]} - {"name", "cell"}

    # the cells that ran before these were added keep their settings
    assert changed("scratch_320") == {"model"}
    assert changed("scratch_320_e15") == {"model", "epochs"} and configs["scratch_320_e15"]["epochs"] == 15
    assert changed("coco_320_e15") == {"epochs"}
    assert changed("coco_480_bg20") == {"imgsz", "background_ratio", "epochs", "budget_hours"}
    long = configs["coco_480_bg20"]
    assert (long["imgsz"], long["budget_hours"], long["epochs"]) == (480, 3.0, 300)
    expected = {
        "coco_640": ("imgsz", 640),
        "coco_320_freeze10": ("freeze", 10),
        "coco_320_bg25": ("background_ratio", 0.25),
    }
    for cell, (key, value) in expected.items():
        assert changed(cell) == {key} and configs[cell][key] == value, cell
    assert changed("coco_320_lr0005") == {"optimizer"}
    optimizer = configs["coco_320_lr0005"]["optimizer"]
    assert (optimizer["name"], optimizer["lr0"], optimizer["cos_lr"]) == ("AdamW", 0.0005, True)
    assert changed("coco_320_robust") == {"augment"}
    robust = configs["coco_320_robust"]["augment"]
    assert {k: v for k, v in robust.items() if k != "photometric"} == {
        k: v for k, v in coco["augment"].items() if k != "photometric"
    }
    assert robust["photometric"]["jpeg_quality"] == [40, 95] and robust["photometric"]["gamma"] == 0.3
