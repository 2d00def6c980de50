"""`predict --cluster ray` on s3:// sources against a real S3 server (moto): one run, then a CLI rerun."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from s3_objects import point_at, put_objects

from bonefrac.export.samples import synthetic_samples
from bonefrac.infer.analysis import FractureAnalyser
from bonefrac.infer.batch import collect_inputs, predict_files
from bonefrac.infer.object_store import ObjectInput
from bonefrac.infer.ray_batch import (
    RESULTS_FOLDER,
    RayJob,
    RayRun,
    collect_sources,
    predict_on_ray,
    read_results,
)

pytest.importorskip("ray.data")

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED = REPO_ROOT / "deploy" / "model" / "model.onnx"
BUCKET = "ray-archive"
PREFIX = f"s3://{BUCKET}/wrist/"
BROKEN = "wrist/sub/broken.png"
GONE = f"s3://{BUCKET}/wrist/gone.png"  # listed once, deleted before the run: unreadable
CORRUPT = b"\x89PNG\r\n\x1a\n and then no image"


@pytest.fixture(scope="module")
def radiographs() -> dict[str, bytes]:
    """Four synthetic radiographs as PNG bytes, by the key they get in the bucket."""
    found = {}
    for n, (name, image) in enumerate(synthetic_samples(4)):
        encoded = io.BytesIO()
        Image.fromarray(image.pixels).save(encoded, format="PNG")
        found[f"wrist/{'sub/' if n % 2 else ''}{name}.png"] = encoded.getvalue()
    return found


@pytest.fixture(scope="module")
def aws_environment(s3_endpoint: str):
    """The module's environment points at the moto server (so does the local cluster's, started within)."""
    with pytest.MonkeyPatch.context() as patch:
        yield point_at(patch, s3_endpoint)


@pytest.fixture(scope="module")
def archive(s3_endpoint: str, aws_environment: dict[str, str], radiographs: dict[str, bytes]) -> list[str]:
    """The bucket: the radiographs, a corrupt object, a note that is no image, an image beside the prefix."""
    put_objects(
        s3_endpoint,
        BUCKET,
        {**radiographs, BROKEN: CORRUPT, "wrist/notes.txt": b"text", "hip/x.png": b""},
    )
    return sorted([f"s3://{BUCKET}/{key}" for key in [*radiographs, BROKEN]])


@pytest.fixture(scope="module")
def plain_documents(
    radiographs: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What the plain `bonefrac predict` writes for the same images read locally, by bucket key."""
    folder, out = tmp_path_factory.mktemp("local-copy"), tmp_path_factory.mktemp("plain")
    for key, data in radiographs.items():
        (folder / Path(key).name).write_bytes(data)
    analyser = FractureAnalyser.from_model(SHIPPED, threads=1)
    outcomes = predict_files(collect_inputs([folder]), analyser, out, save_images=False)
    by_name = {o.path.name: json.loads(o.json_path.read_text()) for o in outcomes if o.json_path is not None}
    return {key: by_name[Path(key).name] for key in radiographs}


@pytest.fixture(scope="module")
def scored(archive: list[str], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RayRun]:
    """The module's Ray run: the prefix and an object gone missing; a local cluster, 1 worker, 2 CPUs."""
    out = tmp_path_factory.mktemp("scored")
    job = RayJob(SHIPPED, out, workers=1, local_cpus=2, batch_size=2)
    return out, predict_on_ray([*collect_sources([PREFIX]), ObjectInput(GONE, "gone")], job)


def test_each_object_gets_a_row_named_by_its_uri(archive, scored):
    out, run = scored
    assert (run.total, run.skipped, run.done) == (len(archive) + 1, 0, len(archive) + 1)
    rows = read_results(out)
    assert sorted(row["file_name"] for row in rows) == sorted([*archive, GONE])
    assert sorted(name for name, _ in run.failed) == sorted([f"s3://{BUCKET}/{BROKEN}", GONE])


def test_corrupt_and_unreadable_objects_are_failed_rows_with_the_reason(scored):
    out, _ = scored
    failed = {r["file_name"]: r for r in read_results(out) if r["status"] != "ok"}
    assert sorted(failed) == sorted([f"s3://{BUCKET}/{BROKEN}", GONE])
    assert all(row["status"] == "failed" and row["result_json"] is None for row in failed.values())
    assert failed[f"s3://{BUCKET}/{BROKEN}"]["error"].startswith(f"s3://{BUCKET}/{BROKEN}: ")
    assert "wrist/gone.png" in failed[GONE]["error"]


def test_each_document_is_the_plain_commands_for_the_same_image(scored, plain_documents):
    out, _ = scored
    ok = [r for r in read_results(out) if r["status"] == "ok"]
    assert len(ok) == len(plain_documents)
    for row in ok:
        key = row["file_name"].removeprefix(f"s3://{BUCKET}/")
        document, plain = json.loads(row["result_json"]), plain_documents[key]
        assert document["file_name"] == row["file_name"]
        assert {**document, "file_name": None} == {**plain, "file_name": None}, key
        assert row["sha256"] == document["image"]["sha256"] and row["call"] == document["image"]["call"]
        assert Path(row["image_path"]).is_file() and Path(row["image_path"]).stem == row["output_stem"]


def predict_command(sources: list[str], out: Path) -> tuple[int, str]:
    """`bonefrac predict SOURCES --cluster ray` as a user runs it: the exit code and what it printed."""
    proc = subprocess.run(
        [sys.executable, "-m", "bonefrac", "predict", *sources, "--model", str(SHIPPED), "--out", str(out)]
        + ["--cluster", "ray", "--workers", "1"],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "src"), "RAY_USAGE_STATS_ENABLED": "0"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


def test_a_rerun_analyses_only_the_objects_not_in_the_results(
    archive, scored, aws_environment, radiographs, s3_endpoint, tmp_path
):
    out = tmp_path / "scored"
    shutil.copytree(scored[0], out)  # this module's other tests keep their results as they were
    before = sorted(p.name for p in (out / RESULTS_FOLDER).iterdir())
    code, said = predict_command([PREFIX], out)
    assert code == 0, said
    assert f"{len(archive)} image(s) on a local Ray cluster" in said
    assert f"{len(archive)} of them objects at {aws_environment['AWS_ENDPOINT_URL']}" in said
    assert f"0 image(s) analysed now, {len(archive)} already in" in said
    assert sorted(p.name for p in (out / RESULTS_FOLDER).iterdir()) == before, "nothing new written"

    late = f"s3://{BUCKET}/late/arrived.png"
    put_objects(s3_endpoint, BUCKET, {"late/arrived.png": next(iter(radiographs.values()))})
    code, said = predict_command([PREFIX, f"s3://{BUCKET}/late/"], out)
    assert code == 0, said
    assert f"1 image(s) analysed now, {len(archive)} already in" in said
    (row,) = [r for r in read_results(out) if r["file_name"] == late]
    assert row["status"] == "ok" and json.loads(row["result_json"])["file_name"] == late
