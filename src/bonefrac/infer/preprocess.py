"""Letterbox preprocessing identical to ultralytics' `LetterBox(auto=False)`; OpenCV optional.

Ultralytics resizes with `cv2.resize(..., INTER_LINEAR)` and pads with grey 114, centred. When OpenCV is
importable (a training install) it is used; the serving install has none, and `resize_linear_numpy` reproduces
OpenCV's fixed-point bilinear arithmetic for uint8 (11-bit coefficients, the same rounding), so the tensor fed
to the ONNX model is the one ultralytics' own predictor would build, and boxes agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD_VALUE = 114
_COEF_BITS = 11
_COEF_SCALE = 1 << _COEF_BITS  # 2048, OpenCV's INTER_RESIZE_COEF_SCALE
# uint8 -> float32 in [0, 1] exactly as ultralytics' `tensor.float() / 255` (a float32 division)
_UNIT_DIVISOR = np.float32(255.0)
_PAD_UNIT = np.float32(PAD_VALUE) / _UNIT_DIVISOR


@dataclass(frozen=True)
class LetterboxParams:
    """How one image was placed in the square model input; `unletterbox_boxes` inverts it."""

    orig_height: int
    orig_width: int
    size: int  # side of the square input
    new_width: int  # resized width before padding
    new_height: int
    pad_left: int
    pad_top: int

    @property
    def gain_x(self) -> float:
        return self.new_width / self.orig_width

    @property
    def gain_y(self) -> float:
        return self.new_height / self.orig_height


def letterbox_params(height: int, width: int, size: int) -> LetterboxParams:
    """The resize and padding ultralytics' LetterBox(new_shape=size, auto=False, center=True) chooses."""
    if height < 1 or width < 1:
        raise ValueError(f"image must be at least 1x1 pixels, got {height}x{width}")
    if size < 1:
        raise ValueError(f"input size must be a positive number of pixels, got {size}")
    r = min(size / height, size / width)
    new_w, new_h = max(round(width * r), 1), max(round(height * r), 1)
    dw, dh = (size - new_w) / 2, (size - new_h) / 2
    return LetterboxParams(
        orig_height=height,
        orig_width=width,
        size=size,
        new_width=new_w,
        new_height=new_h,
        pad_left=round(dw - 0.1),
        pad_top=round(dh - 0.1),
    )


def _axis_table(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (i0, i1) and 11-bit weights (w0, w1) for one axis, as OpenCV computes them."""
    scale = src / dst
    pos = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(pos).astype(np.int64)
    frac = pos - i0.astype(np.float32)
    low = i0 < 0
    frac[low] = 0.0
    i0[low] = 0
    high = i0 >= src - 1
    frac[high] = 0.0
    i0[high] = src - 1
    i1 = np.minimum(i0 + 1, src - 1)
    w0 = np.rint((np.float32(1.0) - frac) * _COEF_SCALE).astype(np.int32)
    w1 = np.rint(frac * _COEF_SCALE).astype(np.int32)
    return i0, i1, w0, w1


def _cv2():
    """OpenCV when it is installed (ultralytics brings it; the serving install does not), else None."""
    global _CV2_CHECKED, _CV2
    if not _CV2_CHECKED:
        try:
            import cv2

            _CV2 = cv2
        except ImportError:
            _CV2 = None
        _CV2_CHECKED = True
    return _CV2


_CV2_CHECKED = False
_CV2 = None


GREY_SOURCE_MODES = frozenset(
    {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "MONOCHROME1", "MONOCHROME2"}
)


def is_grey_source(metadata: dict) -> bool | None:
    """True when load_image's metadata says the file was grey (Pillow mode or DICOM photometry), else None."""
    return True if metadata.get("mode") in GREY_SOURCE_MODES else None


def _grey_rows(rows: np.ndarray) -> bool:
    """True when every pixel of these (n, W, 3) rows has R == G == B (radiographs usually do)."""
    return rows.shape[2] == 3 and bool(
        np.array_equal(rows[:, :, 0], rows[:, :, 1]) and np.array_equal(rows[:, :, 0], rows[:, :, 2])
    )


def resize_linear_numpy(
    pixels: np.ndarray, new_width: int, new_height: int, *, grey: bool | None = None
) -> np.ndarray:
    """Bilinear resize of an (H, W, C) uint8 image with OpenCV INTER_LINEAR's fixed-point arithmetic.

    Bit-identical to cv2.resize when shrinking; when enlarging, a few pixels may differ by one grey level.
    When the source rows it reads are grey (R == G == B), one channel is computed and the result is a
    read-only broadcast view over three channels. `grey=True` says the caller knows the image is grey (its
    file was), which skips the check; None checks.
    """
    height, width, channels = pixels.shape
    y0, y1, wy0, wy1 = _axis_table(height, new_height)
    x0, x1, wx0, wx1 = _axis_table(width, new_width)
    if grey is None:
        grey = _grey_rows(pixels[y0]) and _grey_rows(pixels[y1])
    if grey:  # one contiguous plane: np.take on a stride-3 view is several times slower
        rows0, rows1, cols0, cols1 = pixels[y0, :, 0], pixels[y1, :, 0], x0, x1
        wx0c, wx1c = wx0[None, :], wx1[None, :]
    else:
        rows0, rows1 = pixels[y0], pixels[y1]  # the two source rows each output row needs
        channel = np.arange(channels)
        cols0 = (x0[:, None] * channels + channel).reshape(-1)
        cols1 = (x1[:, None] * channels + channel).reshape(-1)
        wx0c = np.repeat(wx0, channels)[None, :]
        wx1c = np.repeat(wx1, channels)[None, :]
        rows0 = rows0.reshape(new_height, width * channels)
        rows1 = rows1.reshape(new_height, width * channels)
    # horizontal pass (int32, scaled by 2048)
    h0 = np.take(rows0, cols0, axis=1).astype(np.int32)
    h0 *= wx0c
    h0 += np.take(rows0, cols1, axis=1).astype(np.int32) * wx1c
    h1 = np.take(rows1, cols0, axis=1).astype(np.int32)
    h1 *= wx0c
    h1 += np.take(rows1, cols1, axis=1).astype(np.int32) * wx1c
    # vertical pass, rounded like OpenCV's vectorised VResizeLinear for uint8
    h0 >>= 4
    h0 *= wy0[:, None]
    h0 >>= 16
    h1 >>= 4
    h1 *= wy1[:, None]
    h1 >>= 16
    h0 += h1
    h0 += 2
    h0 >>= 2
    np.clip(h0, 0, 255, out=h0)
    if grey:
        return np.broadcast_to(h0.astype(np.uint8)[:, :, None], (new_height, new_width, channels))
    return h0.astype(np.uint8).reshape(new_height, new_width, channels)


def resize_linear(
    pixels: np.ndarray, new_width: int, new_height: int, *, use_cv2: bool = True, grey: bool | None = None
) -> np.ndarray:
    """Bilinear resize as ultralytics does it: cv2.resize when OpenCV is importable, else the numpy twin."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3:
        raise ValueError(f"pixels must be (H, W, C) uint8, got {tuple(pixels.shape)} {pixels.dtype}")
    height, width = pixels.shape[:2]
    if (height, width) == (new_height, new_width):
        return pixels
    cv2 = _cv2() if use_cv2 else None
    if cv2 is not None:
        out = cv2.resize(pixels, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
        return out if out.ndim == 3 else out[:, :, None]
    return resize_linear_numpy(pixels, new_width, new_height, grey=grey)


def letterbox(
    pixels: np.ndarray, size: int, *, use_cv2: bool = True, grey: bool | None = None
) -> tuple[np.ndarray, LetterboxParams]:
    """(size, size, 3) uint8: the image resized to fit, centred on grey 114, and how it was placed."""
    params = letterbox_params(pixels.shape[0], pixels.shape[1], size)
    resized = resize_linear(pixels, params.new_width, params.new_height, use_cv2=use_cv2, grey=grey)
    canvas = np.full((size, size, pixels.shape[2]), PAD_VALUE, dtype=np.uint8)
    top, left = params.pad_top, params.pad_left
    canvas[top : top + params.new_height, left : left + params.new_width] = resized
    return canvas, params


def to_input_tensor(letterboxed: list[np.ndarray] | tuple[np.ndarray, ...]) -> np.ndarray:
    """(N, 3, S, S) float32 in [0, 1], channels first, from (S, S, 3) uint8 RGB (as `x.float() / 255`)."""
    batch = np.stack(letterboxed).transpose(0, 3, 1, 2)  # (N, 3, S, S) view
    out = np.empty(batch.shape, np.float32)
    np.divide(batch, _UNIT_DIVISOR, out=out, dtype=np.float32)
    return out


def preprocess(
    pixels: np.ndarray, size: int, *, use_cv2: bool = True, grey: bool | None = None
) -> tuple[np.ndarray, LetterboxParams]:
    """One RGB uint8 image -> ((1, 3, size, size) float32 input, placement).

    The same values as `to_input_tensor([letterbox(...)[0]])`, but only the image region is converted.
    """
    params = letterbox_params(pixels.shape[0], pixels.shape[1], size)
    resized = resize_linear(pixels, params.new_width, params.new_height, use_cv2=use_cv2, grey=grey)
    out = np.empty((1, pixels.shape[2], size, size), np.float32)
    out.fill(_PAD_UNIT)
    top, left = params.pad_top, params.pad_left
    region = out[0, :, top : top + params.new_height, left : left + params.new_width]
    if resized.strides[2] == 0:  # a grey broadcast from resize_linear_numpy: convert one plane, copy it
        np.divide(resized[:, :, 0], _UNIT_DIVISOR, out=region[0], dtype=np.float32)
        region[1:] = region[0]
    else:
        np.divide(resized.transpose(2, 0, 1), _UNIT_DIVISOR, out=region, dtype=np.float32)
    return out, params
