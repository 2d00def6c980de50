"""S3-compatible sources against a real server (moto on loopback): listing, reading, the errors users meet."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from s3_objects import put_objects

from bonefrac.errors import ConfigError
from bonefrac.infer.object_store import ObjectInput, ObjectStore, list_images, object_path, read_object
from bonefrac.infer.ray_batch import RayJob, collect_sources

REPO_ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16  # only listed and read here, never decoded
BUCKET = "listing"
OBJECTS = {
    "wrist/a.png": PNG,
    "wrist/b.JPG": b"jpeg bytes",
    "wrist/sub/c.dcm": b"dicom bytes",
    "wrist/sub/a.png": PNG + b"another",
    "wrist/notes.txt": b"not an image suffix",
    "wrist/.thumbs/d.png": PNG,
    "wrist/no-suffix": b"suffix-less",
    "wristwatch/e.png": PNG,
    "elbow/f.png": PNG,
}


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    put_objects(s3_endpoint, BUCKET, OBJECTS)
    return BUCKET


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_store_follows_the_aws_variables():
    assert ObjectStore.from_environment({}) == ObjectStore(None, None)
    environ = {"AWS_ENDPOINT_URL": "http://minio:9000", "AWS_DEFAULT_REGION": "eu-west-1"}
    assert ObjectStore.from_environment(environ) == ObjectStore("http://minio:9000", "eu-west-1")
    environ |= {"AWS_ENDPOINT_URL_S3": "https://s3.ceph:7480", "AWS_REGION": "eu-central-1"}
    assert ObjectStore.from_environment(environ) == ObjectStore("https://s3.ceph:7480", "eu-central-1")


@pytest.mark.parametrize("uri", ["s3://", "s3:///", "archive/wrist"])
def test_a_uri_without_a_bucket_is_refused(uri):
    with pytest.raises(ConfigError, match="s3://BUCKET/PREFIX"):
        object_path(uri)


def test_a_prefix_gives_its_image_objects_as_a_folder_does(s3_env, bucket):
    store = ObjectStore.from_environment()
    names = ["wrist/a.png", "wrist/b.JPG", "wrist/sub/a.png", "wrist/sub/c.dcm"]
    expected = [f"s3://listing/{name}" for name in names]
    assert list_images("s3://listing/wrist/", store) == expected
    assert list_images("s3://listing/wrist", store) == expected  # the trailing slash changes nothing
    assert "s3://listing/elbow/f.png" in list_images("s3://listing", store)  # a whole bucket
    # a URI naming one object gives it, whatever its suffix, as a file named on the command line
    assert list_images("s3://listing/wrist/no-suffix", store) == ["s3://listing/wrist/no-suffix"]


def test_an_object_is_read_as_its_bytes(s3_env, bucket):
    filesystem = ObjectStore.from_environment().filesystem()
    assert read_object(filesystem, "s3://listing/wrist/sub/a.png") == OBJECTS["wrist/sub/a.png"]
    with pytest.raises(FileNotFoundError):
        read_object(filesystem, "s3://listing/wrist/gone.png")


def test_sources_mix_local_files_and_objects_with_unique_stems(s3_env, bucket, tmp_path):
    (tmp_path / "a.png").write_bytes(PNG)
    sources = collect_sources([str(tmp_path), "s3://listing/wrist/", "s3://listing/wrist/a.png"])
    assert [s.source for s in sources] == [str((tmp_path / "a.png").resolve())] + list_images(
        "s3://listing/wrist/", ObjectStore.from_environment()
    ), "local files first, each object once"
    assert [s.output_stem for s in sources] == ["a", "a_1", "b", "a_2", "c"]
    assert all(isinstance(s, ObjectInput) for s in sources[1:])


def test_a_job_takes_the_store_from_the_environment(s3_env):
    assert RayJob(Path("model.onnx"), Path("out")).object_store.endpoint == s3_env["AWS_ENDPOINT_URL"]


def test_a_missing_bucket_names_the_uri_and_what_to_check(s3_env):
    with pytest.raises(ConfigError) as raised:
        list_images("s3://no-such-bucket/wrist/", ObjectStore.from_environment())
    said = str(raised.value)
    assert said.startswith("s3://no-such-bucket/wrist/: no bucket 'no-such-bucket' at http://127.0.0.1:")
    assert said.endswith("; check the bucket name and AWS_ENDPOINT_URL") and "\n" not in said


def test_a_missing_prefix_or_one_without_images_is_refused(s3_env, bucket):
    store = ObjectStore.from_environment()
    with pytest.raises(ConfigError, match="no object or prefix of that name in bucket 'listing'"):
        list_images("s3://listing/knee/", store)
    put_objects(s3_env["AWS_ENDPOINT_URL"], "no-images", {"docs/readme.txt": b"text"})
    with pytest.raises(ConfigError, match=r"s3://no-images/docs: no image objects .*\.dcm"):
        list_images("s3://no-images/docs", store)


def test_an_endpoint_refusing_connections_says_to_check_it(s3_env, monkeypatch):
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    with pytest.raises(ConfigError) as raised:
        list_images("s3://archive/wrist/", ObjectStore.from_environment())
    said = str(raised.value)
    assert said.startswith(f"s3://archive/wrist/: cannot reach the object store at {endpoint}")
    assert "check AWS_ENDPOINT_URL (scheme, host and port)" in said and "\n" not in said


def test_refused_credentials_say_to_check_them(s3_env, bucket, monkeypatch):
    import moto.settings

    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)  # moto now checks every key
    with pytest.raises(ConfigError) as raised:
        list_images("s3://listing/wrist/", ObjectStore.from_environment())
    said = str(raised.value)
    assert said.startswith("s3://listing/wrist/: the object store at http://127.0.0.1:")
    assert "refused the request" in said and "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" in said


def run_predict(arguments: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bonefrac", "predict", *arguments],
        env={**os.environ, **env, "PYTHONPATH": str(REPO_ROOT / "src")},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_plain_command_says_objects_need_a_cluster(s3_env, tmp_path):
    proc = run_predict(["s3://listing/wrist/"], s3_env, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: s3://listing/wrist/: object-store sources need --cluster ray (a local Ray cluster) or "
        "--cluster ray://HOST:PORT; the plain command reads local files only"
    ]
    assert list(tmp_path.iterdir()) == []


def test_the_cluster_command_reports_a_missing_bucket_in_one_line(s3_env, tmp_path):
    proc = run_predict(["s3://no-such-bucket/x/", "--cluster", "ray", "--out", "scored"], s3_env, tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert lines[0].startswith("error: s3://no-such-bucket/x/: no bucket 'no-such-bucket'")
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written
