"""reference_results.yaml: shipped in the package, typed, and compared like with like."""

from __future__ import annotations

import pytest

from bonefrac.card.references import ReferenceResult, load_reference_results
from bonefrac.errors import ConfigError


def test_shipped_references_hold_the_anchor_and_the_published_fracatlas_results():
    shipped = {r.key: r for r in load_reference_results().references}
    anchor = shipped["yolo11n_anchor"]
    assert (anchor.level, anchor.images) == ("box", "all")
    assert anchor.metrics.given() == {"map50": 0.103, "map50_95": 0.034, "precision": 0.30, "recall": 0.20}
    paper = shipped["fracatlas_paper_yolov8s"]
    assert (paper.level, paper.images, paper.metrics.given()) == ("box", "fractured_only", {"map50": 0.562})
    assert "Scientific Data 10, 521 (2023)" in paper.source and "Abedeen" in paper.source
    fracdet = {k: shipped[k] for k in ("fracdet_v11_yolo11s", "fracdet_v11_rtdetr")}
    assert [r.metrics.map50 for r in fracdet.values()] == [0.435, 0.413]
    assert all(r.images == "fractured_only" and "Sci" in r.source for r in fracdet.values())
    classifiers = [shipped["resnet18_classifier_224"], shipped["resnet18_classifier_448"]]
    assert [(r.level, r.images, r.metrics.auroc) for r in classifiers] == [
        ("image", "all", 0.91),
        ("image", "all", 0.94),
    ]


def test_counterpart_takes_this_models_number_under_the_same_protocol(report):
    shipped = load_reference_results()
    paper = shipped.get("fracatlas_paper_yolov8s").counterpart(report)
    assert paper == {"map50": report.box_fractured_only.map50}
    assert report.box_fractured_only.map50 != report.box.map50  # the backgrounds' false alarms differ
    anchor = shipped.get("yolo11n_anchor").counterpart(report)
    assert anchor == {k: getattr(report.box, k) for k in ("map50", "map50_95", "precision", "recall")}
    assert shipped.get("resnet18_classifier_448").counterpart(report) == {"auroc": report.image.auroc}


def _entry(**changes) -> dict:
    entry = {
        "key": "k",
        "model": "m",
        "source": "s",
        "level": "box",
        "images": "all",
        "measured_by": "them",
        "metrics": {"map50": 0.5},
    }
    return {**entry, **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"level": "image", "images": "fractured_only", "metrics": {"auroc": 0.9}}, "images must be 'all'"),
        ({"level": "image"}, "image-level reference takes auroc; got map50"),
        (
            {"metrics": {"auroc": 0.9}},
            "box-level reference takes map50, map50_95, precision, recall; got auroc",
        ),
        ({"metrics": {}}, "got no metric"),
        ({"metrics": {"map50": 1.5}}, "less than or equal to 1"),
        ({"images": "positives"}, "'all' or 'fractured_only'"),
    ],
)
def test_a_reference_must_state_a_protocol_its_numbers_fit(changes, message):
    with pytest.raises(ValueError, match=message):
        ReferenceResult.model_validate(_entry(**changes))


def test_a_broken_references_file_says_what_it_expected(tmp_path):
    path = tmp_path / "refs.yaml"
    path.write_text("references:\n  - {key: a, model: m}\n")
    with pytest.raises(
        ConfigError, match="expected 'references:' with key, model, source.*references.0.source"
    ):
        load_reference_results(path)
    path.write_text(f"references: [{_entry()}, {_entry()}]\n".replace("'", '"'))
    with pytest.raises(ConfigError, match="repeated: k"):
        load_reference_results(path)


def test_unknown_reference_key_lists_the_known_ones():
    with pytest.raises(
        ConfigError, match="no reference result 'nope'; known: yolo11n_anchor, fracatlas_paper"
    ):
        load_reference_results().get("nope")


@pytest.mark.slow
def test_the_wheel_ships_the_reference_results(tmp_path):
    """Built from a copy of the checkout (setuptools writes build/ and egg-info beside the sources)."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    source = tmp_path / "source"
    shutil.copytree(root / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(root / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--disable-pip-version-check", "-q", "-w", "dist", "."],
        cwd=source,
        check=True,
        capture_output=True,
    )
    (wheel,) = (source / "dist").glob("bonefrac-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "bonefrac/card/reference_results.yaml" in archive.namelist()
        shipped = archive.read("bonefrac/card/reference_results.yaml").decode()
    assert shipped == (root / "src" / "bonefrac" / "card" / "reference_results.yaml").read_text()
