import json

import pytest

from bonefrac.demo.folder import (
    MANIFEST_NAME,
    DemoImage,
    DemoManifest,
    finish_demo_folder,
    read_demo_manifest,
    render_readme,
    reset_demo_folder,
)
from bonefrac.errors import ConfigError, DatasetError


def _manifest(kind="synthetic", credit=None):
    images = [DemoImage(file="synthetic_01.png", label="labels/synthetic_01.txt", boxes=2, note="two lines")]
    return DemoManifest(kind=kind, source="the generator", rule="seed 0", credit=credit, images=images)


def test_finish_writes_manifest_and_readme_that_read_back(tmp_path):
    out = reset_demo_folder(tmp_path / "demo")
    (out / "synthetic_01.png").write_bytes(b"png")
    (out / "labels" / "synthetic_01.txt").write_text("0 0.5 0.5 0.1 0.1\n0 0.2 0.2 0.1 0.1\n")
    finish_demo_folder(out, _manifest())
    assert read_demo_manifest(out) == _manifest()
    readme = (out / "README.md").read_text()
    assert readme.startswith("# SYNTHETIC demo images") and "not real patients" in readme
    assert "| synthetic_01.png | yes | 2 | two lines |" in readme


def test_readme_of_fracatlas_images_carries_the_credit():
    readme = render_readme(_manifest(kind="fracatlas", credit="FracAtlas: Abedeen et al. CC BY 4.0."))
    assert readme.startswith("# Demo radiographs: FracAtlas test images")
    assert "Credit: FracAtlas: Abedeen et al. CC BY 4.0." in readme


def test_finish_refuses_a_manifest_listing_missing_files(tmp_path):
    out = reset_demo_folder(tmp_path / "demo")
    (out / "synthetic_01.png").write_bytes(b"png")
    with pytest.raises(DatasetError, match="lacks files its manifest lists: labels/synthetic_01.txt"):
        finish_demo_folder(out, _manifest())
    assert not (out / MANIFEST_NAME).exists()


def test_reset_replaces_an_earlier_demo_folder_only(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / MANIFEST_NAME).write_text("{}")
    (out / "old.png").write_bytes(b"x")
    reset_demo_folder(out)
    assert [p.name for p in out.iterdir()] == ["labels"]
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="holds files but no demo.json"):
        reset_demo_folder(other)
    assert (other / "notes.txt").read_text() == "keep me"
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="must be a folder, got .*file"):
        reset_demo_folder(tmp_path / "file")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not readable JSON"),
        (json.dumps({"kind": "real", "source": "s", "rule": "r", "images": []}), "is not a demo manifest"),
    ],
)
def test_read_manifest_says_what_is_wrong(tmp_path, text, message):
    (tmp_path / MANIFEST_NAME).write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_demo_manifest(tmp_path)


def test_read_manifest_of_a_folder_without_one_is_none(tmp_path):
    assert read_demo_manifest(tmp_path) is None
