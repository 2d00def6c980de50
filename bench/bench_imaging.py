"""Image decoding speed: load_image per format at radiograph size, and the lookup-table tone mapping.

    PYTHONPATH=src python bench/bench_imaging.py [--repeats 7] [--record]

Files are synthetic 2500x3000 radiographs built in memory (smooth anatomy-like ramps plus noise). For 16-bit
inputs the table also compares the lookup-table tone mapping that load_image uses with transforming every
pixel directly in float64 (the same result; `speed-up` = direct / lookup, both measured in this process).
--record appends a dated, machine-labelled row per case to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from _results import RESULTS, append_rows, machine_label  # noqa: E402

from bonefrac.imaging.io import load_image  # noqa: E402
from bonefrac.imaging.tonemap import map_through_lut, scale_to_uint8  # noqa: E402

SECTION = "## Image decoding (`bench/bench_imaging.py`)"
INTRO = "Median ms per 2500x3000 image. `speed-up`: tone mapping by lookup table vs every pixel in float64."
TABLE_HEAD = (
    "| date (UTC) | machine | case | load_image ms | lookup ms | direct ms | speed-up |\n"
    "|---|---|---|---|---|---|---|\n"
)
HEIGHT, WIDTH = 3000, 2500


def synthetic_stored(bits: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    body = np.exp(-(((x - WIDTH / 2) / (WIDTH / 4)) ** 2)) * (0.6 + 0.4 * np.sin(y / 150.0))
    values = body * (2**bits - 1) * 0.9 + rng.normal(0, 2**bits / 200, (HEIGHT, WIDTH))
    return np.clip(values, 0, 2**bits - 1).astype(np.uint16 if bits > 8 else np.uint8)


def dicom_bytes(stored: np.ndarray, **elements: object) -> bytes:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality, ds.Rows, ds.Columns, ds.SamplesPerPixel = "DX", HEIGHT, WIDTH, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    ds.PixelData = stored.tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def raster_bytes(array: np.ndarray, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **params)
    return buffer.getvalue()


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--record", action="store_true", help="append the rows to bench/RESULTS.md")
    args = parser.parse_args()

    stored12, gray8 = synthetic_stored(12), synthetic_stored(8)
    cases: list[tuple[str, bytes, np.ndarray | None]] = [
        (
            "DICOM 12-bit window, MONOCHROME1",
            dicom_bytes(
                stored12,
                PhotometricInterpretation="MONOCHROME1",
                RescaleSlope=1,
                RescaleIntercept=-1024,
                WindowCenter=800,
                WindowWidth=2400,
            ),
            stored12,
        ),
        ("DICOM 12-bit, no window", dicom_bytes(stored12), stored12),
        ("PNG 16-bit grey", raster_bytes(stored12, "PNG", compress_level=1), stored12),
        ("JPEG 8-bit grey", raster_bytes(gray8, "JPEG", quality=90), None),
        ("JPEG 8-bit RGB", raster_bytes(np.repeat(gray8[:, :, None], 3, axis=2), "JPEG", quality=90), None),
    ]
    rows = []
    for name, data, stored in cases:
        load = median_ms(lambda data=data: load_image(data), args.repeats)
        lookup = direct = None
        if stored is not None:
            lookup = median_ms(lambda s=stored: map_through_lut(s, scale_to_uint8), args.repeats)
            direct = median_ms(lambda s=stored: scale_to_uint8(s), args.repeats)
        rows.append((name, load, lookup, direct))

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    print(f"{'case':34} {'load_image ms':>14} {'lookup ms':>10} {'direct ms':>10} {'speed-up':>9}")
    for name, load, lookup, direct in rows:
        speedup = f"{direct / lookup:.1f}x" if lookup and direct else "-"
        print(f"{name:34} {load:14.1f} {fmt(lookup):>10} {fmt(direct):>10} {speedup:>9}")
    if args.record:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
        lines = []
        for name, load, lookup, direct in rows:
            speedup = f"{direct / lookup:.1f}x" if lookup and direct else "-"
            cells = [stamp, machine_label(), name, f"{load:.1f}", fmt(lookup), fmt(direct), speedup]
            lines.append("| " + " | ".join(cells) + " |")
        append_rows(SECTION, TABLE_HEAD, lines, intro=INTRO)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
