"""One image file, examined: content hash, strict and lenient decoding, size, a small grayscale thumbnail.

`scan_image` runs in worker processes, so it takes a path and returns a small picklable `ImageScan`.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageFile

ImageStatus = Literal["ok", "truncated", "corrupt"]

THUMB_SIDE = 64  # longer side of the grayscale thumbnail kept for pixel comparisons
JPEG_MCU_ROWS = 16  # a truncated JPEG's last decoded block row may be partly filled too
EXIF_ORIENTATION_TAG = 0x0112
JPEG_EOI = b"\xff\xd9"


@dataclass(frozen=True)
class ImageScan:
    """What one image file turned out to be. `thumbnail` is None when the pixels could not be decoded."""

    path: Path
    size_bytes: int
    sha256: str
    status: ImageStatus
    problem: str  # why the status is not "ok"; "" otherwise
    strict_decode: bool = False  # True when a strict decoder read every pixel
    width: int = 0
    height: int = 0
    mode: str = ""
    format: str = ""
    exif_orientation: int = 1
    valid_rows: int = 0  # rows from the top holding real pixels (less than height when truncated)
    thumbnail: np.ndarray | None = None  # grayscale, longer side THUMB_SIDE, uint8


def _missing_rows(gray: np.ndarray) -> int:
    """Bottom rows a lenient decoder filled with one flat value (what a truncated JPEG leaves behind)."""
    flat = (gray.max(axis=1) == gray.min(axis=1)) & (gray[:, 0] == gray[-1, 0])
    count = 0
    for is_flat in flat[::-1]:
        if not is_flat:
            break
        count += 1
    return count


def _decode(data: bytes, lenient: bool, reduce: bool = False, draft_side: int | None = None) -> Image.Image:
    """Decode every byte of an image. With `reduce`, a large JPEG is decoded in grayscale at 1/2..1/8 scale
    (libjpeg still reads all its data, so truncation is still caught, but skips most of the pixel work);
    `draft_side` asks the same for a JPEG whose longer side need only be that long."""
    previous = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = lenient
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
            if reduce and image.format == "JPEG" and min(image.size) >= 4 * THUMB_SIDE:
                image.draft("L", (image.width // 4, image.height // 4))
            elif draft_side and image.format == "JPEG":
                image.draft("L", (draft_side, draft_side))
            image.load()
        return image
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous


def _image_header(data: bytes) -> tuple[int, int, str, str, int]:
    """(width, height, mode, format, EXIF orientation) as the file declares them."""
    with Image.open(io.BytesIO(data)) as image:
        try:
            orientation = int(image.getexif().get(EXIF_ORIENTATION_TAG, 1))
        except Exception:  # broken EXIF is not worth failing the scan
            orientation = 1
        return image.width, image.height, image.mode, image.format or "", orientation


def scan_image(path: Path) -> ImageScan:
    """Hash, decode strictly (then leniently when that fails) and describe one image file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return ImageScan(path, 0, "", "corrupt", f"cannot be read: {exc.strerror or exc}")
    digest = hashlib.sha256(data).hexdigest()
    if not data:
        return ImageScan(path, 0, digest, "corrupt", "file is empty (0 bytes)")
    status: ImageStatus = "ok"
    problem = ""
    try:
        image = _decode(data, lenient=False, reduce=True)
    except Exception as strict_error:  # any decoder failure is a finding, not a crash
        try:
            image = _decode(data, lenient=True, reduce=True)
        except Exception as lenient_error:
            return ImageScan(path, len(data), digest, "corrupt", f"cannot be decoded: {lenient_error}")
        status = "truncated"
        problem = f"decodes only with a lenient decoder ({strict_error})"
    strict_ok = status == "ok"
    width, height, mode, image_format, orientation = _image_header(data)
    if image_format == "JPEG" and not data.endswith(JPEG_EOI):
        if status == "ok":
            status = "truncated"
            problem = "ends without the JPEG end-of-image marker (FF D9); strict decoding still succeeds"
        problem += "; ultralytics rewrites such JPEGs in place when it builds its label cache"
    gray = image.convert("L")
    valid_rows = height
    if status == "truncated":
        scale = height / gray.height  # the decode may have been reduced
        rows = round(_missing_rows(np.asarray(gray)) * scale)
        if rows:
            problem += f"; the bottom {rows} of {height} rows are filled with one flat value"
            valid_rows = max(0, height - rows - JPEG_MCU_ROWS)
    thumbnail = gray.copy()
    thumbnail.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    return ImageScan(
        path=path,
        size_bytes=len(data),
        sha256=digest,
        status=status,
        problem=problem,
        strict_decode=strict_ok,
        width=width,
        height=height,
        mode=mode,
        format=image_format,
        exif_orientation=orientation,
        valid_rows=valid_rows,
        thumbnail=np.asarray(thumbnail),
    )


def open_lenient(path: Path, draft_side: int | None = None) -> Image.Image:
    """An image decoded as far as its bytes allow (a truncated JPEG's lost rows come back flat)."""
    return _decode(path.read_bytes(), lenient=True, draft_side=draft_side)


def load_gray(path: Path, max_side: int | None = None) -> np.ndarray:
    """Grayscale pixels of an image, decoded leniently (for pixel comparisons and thumbnails)."""
    image = open_lenient(path, draft_side=max_side).convert("L")
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(image)
