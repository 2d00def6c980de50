"""`predict --cluster ray` on a local 2-CPU Ray cluster: the plain documents, bad files reported, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bonefrac.errors import ConfigError
from bonefrac.export.samples import synthetic_samples
from bonefrac.infer.analysis import FractureAnalyser
from bonefrac.infer.batch import collect_inputs, predict_files
from bonefrac.infer.ray_batch import (
    INCOMPLETE_SUFFIX,
    RESULTS_FOLDER,
    RayJob,
    parse_cluster,
    predict_on_ray,
    read_results,
)

pytest.importorskip("ray.data")

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "deploy" / "model" / "model.onnx"
FRACATLAS = Path(os.environ.get("BONEFRAC_FRACATLAS", REPO_ROOT.parent / "shared" / "data" / "fracatlas"))
BROKEN = "broken.png"


@pytest.mark.parametrize("cluster", ["spark", "ray:", "ray://", "RAY"])
def test_cluster_addresses_other_than_ray_are_refused(cluster):
    with pytest.raises(ConfigError, match="'ray' .* or 'ray://HOST:PORT'"):
        parse_cluster(cluster)


def test_cluster_addresses():
    assert parse_cluster("ray") is None
    assert parse_cluster("ray://head:10001") == "ray://head:10001"


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five synthetic radiographs, a file that is no image, and two FracAtlas test images when present."""
    folder = tmp_path_factory.mktemp("archive")
    for name, image in synthetic_samples(5):
        Image.fromarray(image.pixels).save(folder / f"{name}.png")
    (folder / BROKEN).write_bytes(b"not an image at all")
    test_images = sorted((FRACATLAS / "images" / "test").glob("*.jpg"))[:2]
    for path in test_images:
        (folder / path.name).symlink_to(path)
    return folder


@pytest.fixture(scope="module")
def plain_documents(image_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """What the plain `bonefrac predict` writes for each image, by file name."""
    out = tmp_path_factory.mktemp("plain")
    analyser = FractureAnalyser.from_model(SHIPPED, threads=1)
    outcomes = predict_files(collect_inputs([image_folder]), analyser, out, save_images=False)
    assert [o.path.name for o in outcomes if not o.ok] == [BROKEN]
    return {str(o.path): json.loads(o.json_path.read_text()) for o in outcomes if o.json_path is not None}


def test_ray_gives_the_plain_documents_reports_bad_files_and_resumes(image_folder, plain_documents, tmp_path):
    items = collect_inputs([image_folder])
    first_half = [i for i in items if i.path.name != BROKEN][: len(items) // 2]  # the broken file comes later
    job = RayJob(SHIPPED, tmp_path / "scored", workers=2, local_cpus=2, batch_size=2)

    # a run that stopped after half the images, and a part file whose write was cut off
    first = predict_on_ray(first_half, job)
    assert (first.total, first.skipped, first.done) == (len(first_half), 0, len(first_half))
    cut_off = tmp_path / "scored" / RESULTS_FOLDER / "cut-off.parquet"
    cut_off.write_bytes(b"PAR1 half a file")

    second = subprocess.run(
        [sys.executable, "-m", "bonefrac", "predict", str(image_folder), "--model", str(SHIPPED)]
        + ["--out", str(tmp_path / "scored"), "--cluster", "ray", "--workers", "1"],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "RAY_USAGE_STATS_ENABLED": "0"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    said = " ".join(second.stdout.split())
    rest = len(items) - len(first_half)
    expected = f"{rest} image(s) analysed now, {len(first_half)} already in"
    assert expected in said, second.stdout + second.stderr
    assert "images/s" in said
    assert cut_off.with_name(cut_off.name + INCOMPLETE_SUFFIX).is_file()
    assert second.returncode == 1, second.stderr  # the broken file, as the plain path exits
    assert BROKEN in second.stderr

    rows = read_results(tmp_path / "scored")
    assert sorted(r["file_name"] for r in rows) == sorted(str(i.path) for i in items), "one row per image"
    for row in rows:
        if row["file_name"].endswith(BROKEN):
            assert row["status"] == "failed" and row["error"] and row["result_json"] is None
            continue
        document = json.loads(row["result_json"])
        assert document == plain_documents[row["file_name"]], row["file_name"]
        assert row["call"] == document["image"]["call"] and row["detections"] == len(document["detections"])
        assert Path(row["image_path"]).is_file()

    third = predict_on_ray(items, job)  # everything is in the results: nothing to do, no cluster started
    assert (third.skipped, third.done) == (len(items), 0)
