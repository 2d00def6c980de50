"""Helpers for hand-made image and label fixtures (imported by tests/data tests and conftest)."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from bonefrac.data.synth import render_radiograph
from bonefrac.data.yolo_format import label_path_for, read_label_lines


def radiograph(seed: int, size: int = 96) -> Image.Image:
    """A synthetic grayscale radiograph; different seeds give clearly different images."""
    pixels, _ = render_radiograph(np.random.default_rng(seed), size, fractures=1)
    return Image.fromarray(pixels)


def jpeg_bytes(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def write_image(path: Path, image: Image.Image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def write_label(image_path: Path, lines: list[str] | None) -> None:
    """The label beside the YOLO convention's labels/ folder; None writes no file at all."""
    if lines is None:
        return
    parts = list(image_path.parts)
    parts[len(parts) - 1 - parts[::-1].index("images")] = "labels"
    label = Path(*parts).with_suffix(".txt")
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_text("".join(f"{line}\n" for line in lines))


BOX = "0 0.500000 0.500000 0.200000 0.200000"
OTHER_BOX = "0 0.200000 0.200000 0.100000 0.100000"


def copy_dataset(yaml_path: Path, dest: Path) -> Path:
    """A writable copy of the data set folder holding yaml_path; returns the copy's data.yaml."""
    shutil.copytree(yaml_path.parent, dest)
    return dest / yaml_path.name


def copy_label(source_image: Path, copy_image: Path) -> None:
    """Give copy_image the label lines of source_image (YOLO convention on both sides)."""
    write_label(copy_image, read_label_lines(label_path_for(source_image)))


def plant_copies(root: Path) -> tuple[tuple[str, str], tuple[str, str]]:
    """In a synthetic data set (`write_synthetic_dataset` layout) plant copies across splits: a byte copy of
    train/synth_00000.png in val, and a resized JPEG of train/synth_00001.png in test (labels copied).
    Returns both (original, copy) pairs as paths relative to root."""
    exact = (root / "images/train/synth_00000.png", root / "images/val/copy_of_00000.png")
    exact[1].write_bytes(exact[0].read_bytes())
    near = (root / "images/train/synth_00001.png", root / "images/test/resized_00001.jpg")
    with Image.open(near[0]) as original:
        near[1].write_bytes(jpeg_bytes(original.resize((100, 100), Image.Resampling.LANCZOS), quality=85))
    for original, copy in (exact, near):
        copy_label(original, copy)
    return (
        (exact[0].relative_to(root).as_posix(), exact[1].relative_to(root).as_posix()),
        (near[0].relative_to(root).as_posix(), near[1].relative_to(root).as_posix()),
    )


ROBOFLOW_SPLITS = ("train", "valid", "test")


def _augmentations(
    image: Image.Image, box: tuple[float, float, float, float]
) -> list[tuple[Image.Image, tuple[float, float, float, float]]]:
    """Three augmented versions of one radiograph, as Roboflow exports them, with their moved boxes."""
    cx, cy, w, h = box
    return [
        (ImageOps.mirror(image), (1 - cx, cy, w, h)),
        (image.rotate(180), (1 - cx, 1 - cy, w, h)),
        (ImageEnhance.Brightness(image).enhance(1.3), (cx, cy, w, h)),
    ]


def _affine_version(
    image: Image.Image, box: tuple[float, float, float, float], degrees: float, shear: float, exposure: float
) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """`image` turned by `degrees` about its centre, sheared along x and re-exposed, with its box's new hull.

    A pixel moves by the turn, then x -= shear * (y - centre); PIL is given the inverse map."""
    w, h = image.size
    theta = np.deg2rad(degrees)
    c, s = np.cos(theta), np.sin(theta)
    centre = np.array([w / 2, h / 2])
    forward = np.array([[1.0, -shear], [0.0, 1.0]]) @ np.array([[c, s], [-s, c]])
    inverse = np.linalg.inv(forward)
    offset = centre - inverse @ centre
    coefficients = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    moved = image.transform(image.size, Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR)
    moved = ImageEnhance.Brightness(moved).enhance(exposure)
    cx, cy, bw, bh = box
    corners = np.array([[cx + dx * bw / 2, cy + dy * bh / 2] for dx in (-1, 1) for dy in (-1, 1)]) * [w, h]
    mapped = (corners - centre) @ forward.T + centre
    (x0, y0), (x1, y1) = mapped.min(axis=0) / [w, h], mapped.max(axis=0) / [w, h]
    return moved, ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)


# How augmentation tools make three training versions of one source: small turns, shears and exposures.
AUGMENTED_VERSIONS = ((-7.0, 0.0, 1.2), (5.0, 0.12, 0.85), (0.0, -0.1, 1.35))


def write_augmented_export(
    root: Path, families: int, singles: int, size: int = 256
) -> tuple[Path, list[list[Path]]]:
    """An export whose file names say nothing of their source: each of `families` radiographs in the three
    AUGMENTED_VERSIONS (turned, sheared, re-exposed, boxes moved along) named by a hex digest, spread over
    train/valid/test, plus `singles` unrelated radiographs in train. Returns data.yaml and the families."""
    box = (0.45, 0.5, 0.12, 0.18)
    written: list[list[Path]] = []
    for k in range(families):
        source = radiograph(300 + k, size).convert("L")
        family = []
        for j, (degrees, shear, exposure) in enumerate(AUGMENTED_VERSIONS):
            image, (cx, cy, w, h) = _affine_version(source, box, degrees, shear, exposure)
            digest = hashlib.sha1(f"family{k}-{j}".encode()).hexdigest()[:16]
            path = root / ROBOFLOW_SPLITS[(k + j) % 3] / "images" / f"{digest}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(jpeg_bytes(image))
            write_label(path, [f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"])
            family.append(path)
        written.append(family)
    for i in range(singles):
        path = root / "train" / "images" / f"{hashlib.sha1(f'single{i}'.encode()).hexdigest()[:16]}.jpg"
        path.write_bytes(jpeg_bytes(radiograph(700 + i, size)))
        write_label(path, [BOX])
    yaml_path = root / "data.yaml"
    yaml_path.write_text(
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\nnc: 1\nnames: ['fracture']\n"
    )
    return yaml_path, written


def write_roboflow_export(root: Path, families: int, extra_unmatched: int = 0) -> Path:
    """A Roboflow-style export: each of `families` source radiographs written in three augmented versions
    named img<k>_png.rf.<hex>.jpg, the versions of one family spread over train/valid/test; every third
    family without a fracture. `extra_unmatched` images named plain_<i>.jpg in train. Returns data.yaml."""
    box = (0.3, 0.4, 0.1, 0.2)
    for k in range(families):
        versions = _augmentations(radiograph(100 + k, 96).convert("L"), box)
        for j, (image, (cx, cy, w, h)) in enumerate(versions):
            digest = hashlib.sha1(f"img{k}-{j}".encode()).hexdigest()
            path = root / ROBOFLOW_SPLITS[(k + j) % 3] / "images" / f"img{k}_png.rf.{digest}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(jpeg_bytes(image))
            write_label(path, [] if k % 3 == 2 else [f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"])
    for i in range(extra_unmatched):
        path = root / "train" / "images" / f"plain_{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg_bytes(radiograph(500 + i, 96)))
        write_label(path, [BOX])
    yaml_path = root / "data.yaml"
    yaml_path.write_text(
        "train: ../train/images\nval: ../valid/images\ntest: ../test/images\nnc: 1\nnames: ['fracture']\n"
    )
    return yaml_path
