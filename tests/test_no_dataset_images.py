"""The repository carries no data-set images: no tracked file is, embeds or points at an image.

Judged by content, never by name, so a renamed radiograph (a JPEG saved as notes.txt) is still caught:
- a file that bonefrac's own loader would take for an image (JPEG, PNG, BMP, TIFF, WebP, DICOM), or another
  image or archive format (GIF, JPEG 2000, PDF, ZIP, gzip, xz, bzip2, 7z, tar, NumPy arrays, NIfTI, ...);
- raw image headers (PNG signature, JPEG start with JFIF/Exif/DQT, DICOM meta header, WebP) anywhere inside a
  file, and base64 images or data URLs in text;
- a Git LFS pointer (the image would live outside the checkout) or a symlink leading out of the repository.
Test and demo images are made at run time by the synthetic generator (`bonefrac data synth`, `data demo`).
A synthetic fixture that really must be committed goes into ALLOWED_SHA256 with the command that made it.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bonefrac.hashing import file_sha256
from bonefrac.imaging.sniff import describe_unaccepted, sniff_format

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAD_BYTES = 512

# sha256 -> how the file was made (a synthetic fixture only; never a data-set image). Empty: none is needed.
ALLOWED_SHA256: dict[str, str] = {}

HARMLESS_FORMATS = {"SVG/XML text"}  # vector text; a raster inside it is caught as base64 below
ARCHIVES = (
    (0, b"\xfd7zXZ\x00", "xz archive"),
    (0, b"BZh", "bzip2 archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z archive"),
    (0, b"\x28\xb5\x2f\xfd", "zstd archive"),
    (257, b"ustar", "tar archive"),
    (0, b"\x93NUMPY", "NumPy array"),
)
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
# Split literals (rb"a" rb"b") keep this file's own source from matching its patterns.
EMBEDDED = (
    (re.compile(rb"\x89PNG\r\n\x1a\n"), "PNG signature"),
    (re.compile(rb"\xff\xd8\xff[\xe0-\xef]..(?:JFIF|JFXX|Exif)\x00", re.S), "JPEG header (JFIF/Exif)"),
    (re.compile(rb"\xff\xd8\xff\xdb\x00[\x43\x84]"), "JPEG header (quantisation table)"),
    (re.compile(rb"DICM\x02\x00\x00\x00UL"), "DICOM file meta header"),
    (re.compile(rb"RIFF....WEBP" rb"VP8", re.S), "WebP header"),
    (re.compile(rb"iVBORw0K" rb"Ggo"), "base64 PNG"),
    (re.compile(rb"/9j/(?:4A|4Q|2w)"), "base64 JPEG"),
    (re.compile(rb"data:image/[a-z+.-]+;base64,[A-Za-z0-9+/]{64}", re.I), "image data URL"),
)


def whole_file_format(data: bytes) -> str | None:
    """The image, archive or pointer format a file's first bytes declare, or None for anything else."""
    head = data[:HEAD_BYTES]
    kind = sniff_format(head)
    if kind is not None:
        return f"{kind} image"
    refused = describe_unaccepted(head)
    if refused is not None and refused not in HARMLESS_FORMATS:
        return refused
    for offset, magic, name in ARCHIVES:
        if head[offset : offset + len(magic)] == magic:
            return name
    if head.startswith(LFS_POINTER):
        return "Git LFS pointer"
    return None


def embedded_images(data: bytes) -> list[str]:
    """The image headers or encodings found anywhere inside a file."""
    return [name for pattern, name in EMBEDDED if pattern.search(data)]


def findings(path: Path) -> list[str]:
    """Why a file counts as (carrying) an image; [] when it does not or its sha256 is allowed."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() in ALLOWED_SHA256:
        return []
    whole = whole_file_format(data)
    return [whole] if whole else embedded_images(data)


def tracked_entries() -> list[tuple[str, str]]:
    """(mode, path) of every file git tracks (the index: staged files count too)."""
    if not (REPO_ROOT / ".git").exists():
        pytest.skip(f"{REPO_ROOT} is not a git checkout: no list of tracked files")
    listing = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "-s", "-z"], capture_output=True, check=True
    ).stdout.decode()
    entries = []
    for item in filter(None, listing.split("\0")):
        meta, path = item.split("\t", 1)
        entries.append((meta.split()[0], path))
    assert len(entries) > 100, f"expected the repository's files, git listed {len(entries)}"
    return entries


def tracked_files() -> list[Path]:
    """Tracked regular files present in the work tree (a deletion not yet staged has nothing to read)."""
    paths = [REPO_ROOT / path for mode, path in tracked_entries() if mode != "120000"]
    return [path for path in paths if path.is_file()]


def test_no_tracked_file_is_or_carries_an_image():
    found = {str(path.relative_to(REPO_ROOT)): why for path in tracked_files() if (why := findings(path))}
    assert found == {}, (
        "tracked files that are or carry images (data-set images never enter the repository; make test and "
        f"demo images with the synthetic generator at run time): {found}"
    )


def test_no_tracked_symlink_leads_out_of_the_repository():
    outside = {}
    for mode, path in tracked_entries():
        if mode == "120000":
            target = (REPO_ROOT / path).resolve()
            if not target.is_relative_to(REPO_ROOT):
                outside[path] = str(target)
    assert outside == {}, f"tracked symlinks leading out of the repository (to data?): {outside}"


def test_allowed_files_are_still_tracked():
    present = {file_sha256(path) for path in tracked_files()}
    assert set(ALLOWED_SHA256) <= present, "drop allow-list entries whose file is gone"


def _radiograph_like_jpeg(path: Path, **save: object) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 255, (64, 48), dtype=np.uint8)
    Image.fromarray(pixels).save(path, format="JPEG", **save)
    return path.read_bytes()


def test_the_check_sees_through_renames_embedding_and_encoding(tmp_path):
    """The checks above are worth something only if they catch a disguised image."""
    import base64

    jpeg = _radiograph_like_jpeg(tmp_path / "notes.txt")
    assert findings(tmp_path / "notes.txt") == ["jpeg image"]
    Image.open(tmp_path / "notes.txt").save(tmp_path / "x.dat", format="PNG")
    assert findings(tmp_path / "x.dat") == ["png image"]
    (tmp_path / "blob.onnx").write_bytes(b"\x08\x07" + os.urandom(300) + jpeg + os.urandom(300))
    assert findings(tmp_path / "blob.onnx") == ["JPEG header (JFIF/Exif)"]
    (tmp_path / "fixture.py").write_text(f'DATA = "{base64.b64encode(jpeg).decode()}"\n')
    assert findings(tmp_path / "fixture.py") == ["base64 JPEG"]
    gif = base64.b64encode(b"GIF89a" + os.urandom(120)).decode()
    (tmp_path / "page.md").write_text(f"![x](data:image/gif;base64,{gif})\n")
    assert findings(tmp_path / "page.md") == ["image data URL"]
    import gzip

    (tmp_path / "data.bin").write_bytes(gzip.compress(jpeg))
    assert findings(tmp_path / "data.bin") == ["gzip archive"]
    np.save(tmp_path / "pixels.txt", np.zeros((4, 4), np.uint8), allow_pickle=False)
    assert findings(tmp_path / "pixels.txt.npy") == ["NumPy array"]
    (tmp_path / "plain.py").write_text('MAGIC = b"\\x89PNG\\r\\n\\x1a\\n"  # escaped in source: no image\n')
    assert findings(tmp_path / "plain.py") == []


@pytest.mark.fracatlas
def test_no_tracked_file_is_a_fracatlas_image_by_hash(fracatlas_yaml):
    """Belt and braces where FracAtlas is at hand: no tracked file equals one of its images byte for byte."""
    images = [p for p in (fracatlas_yaml.parent / "images").rglob("*") if p.is_file()]
    assert len(images) > 1000, f"expected FracAtlas's 4083 images, found {len(images)}"
    dataset = {file_sha256(p): p.name for p in images}
    tracked = {file_sha256(p): p for p in tracked_files()}
    same = {str(tracked[h].relative_to(REPO_ROOT)): dataset[h] for h in tracked.keys() & dataset.keys()}
    assert same == {}, f"tracked files that are FracAtlas images: {same}"
