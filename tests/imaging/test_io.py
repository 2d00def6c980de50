import struct
import zlib

import numpy as np
import pytest
from imaging_factories import build_dicom, encode_raster, gradient
from PIL import Image, ImageFile

from bonefrac.errors import ImageError
from bonefrac.imaging.io import DEFAULT_MAX_PIXELS, load_image
from bonefrac.records import Radiograph

GRAY = gradient(16, 20).astype(np.uint8)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height but whose data is a few bytes (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def bmp_header_only(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 0, 0, 2835, 2835, 256, 0)
    palette = bytes(range(256)) * 0 + b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + 16, 0, 0, offset) + info + palette + b"\x00" * 16


def tiff_header_only(width: int, height: int) -> bytes:
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample, SHORT
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # Photometric: black is zero
        (273, 4, 1, 8 + 2 + 12 * 9 + 4),  # StripOffsets: right after the IFD
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, width * height),  # StripByteCounts
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += (
            struct.pack("<HHII", tag, kind, count, value)
            if kind == 4
            else struct.pack("<HHIHH", tag, kind, count, value, 0)
        )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00" + b"\x00" * 16


def jpeg_with_claimed_size(width: int, height: int) -> bytes:
    data = bytearray(encode_raster(Image.fromarray(GRAY), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


BOMB_BUILDERS = {
    "png": png_header_only,
    "bmp": bmp_header_only,
    "tiff": tiff_header_only,
    "jpeg": jpeg_with_claimed_size,
}


@pytest.mark.parametrize("fmt", sorted(BOMB_BUILDERS))
@pytest.mark.parametrize("side", [8000, 60000])  # 64 MP: above our limit; 3.6 GP: above Pillow's too
def test_load_image_refuses_bombs_before_decoding(fmt, side, monkeypatch):
    data = BOMB_BUILDERS[fmt](side, side)
    assert len(data) < 2000

    def never_decode(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never_decode)
    with pytest.raises(ImageError, match="(above the limit|refused before decoding)"):
        load_image(data)


def test_load_image_bomb_builders_make_real_images():
    """The crafted headers are valid files: at a small size they decode."""
    for builder in BOMB_BUILDERS.values():
        assert load_image(builder(4, 4)).pixels.shape == (4, 4, 3)


def test_load_image_respects_a_custom_pixel_limit():
    data = encode_raster(Image.fromarray(GRAY), "PNG")
    with pytest.raises(ImageError, match=r"20 x 16 = 320 pixels, above the limit of 319 pixels"):
        load_image(data, max_pixels=319)
    assert load_image(data, max_pixels=320).width == 20
    assert DEFAULT_MAX_PIXELS == 50_000_000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"file is empty \(0 bytes\); expected one of JPEG, PNG, BMP, TIFF, WebP, DICOM"),
        (
            b"hello world, not an image",
            r"unrecognised content \(first bytes 68 65 6c.*accepted formats are JPEG",
        ),
        (b"GIF89a" + b"\x00" * 40, r"a GIF file; accepted formats are JPEG, PNG, BMP, TIFF, WebP, DICOM"),
        (b"%PDF-1.7\n" + b"\x00" * 40, "a PDF file"),
        (b"PK\x03\x04" + b"\x00" * 40, "a ZIP archive file"),
        (b"\x00\x00\x00\x1cftypheic" + b"\x00" * 40, "a HEIC file"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 40, "a JPEG 2000 file"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "a SVG/XML text file"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "not a readable PNG file"),
        (b"\xff\xd8\xff" + b"\x00" * 10, "JPEG"),
        (b"II*\x00" + b"\xff" * 30, "TIFF"),
        (b"\x00" * 128 + b"DICM" + b"\x00" * 10, "DICOM"),
    ],
)
def test_load_image_refuses_bad_bytes_with_a_clear_message(data, message):
    with pytest.raises(ImageError, match=message):
        load_image(data)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(("fmt", "keep"), [("JPEG", 0.5), ("PNG", 0.6), ("TIFF", 0.5), ("BMP", 0.5)])
def test_load_image_refuses_truncated_files(fmt, keep):
    noisy = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    data = encode_raster(Image.fromarray(noisy), fmt)
    with pytest.raises(ImageError, match=f"{fmt} file is truncated or corrupt|not a readable {fmt} file"):
        load_image(data[: int(len(data) * keep)], name=f"broken.{fmt.lower()}")


def test_load_image_error_names_the_file(tmp_path):
    path = tmp_path / "scan.png"
    path.write_bytes(b"not an image at all")
    with pytest.raises(ImageError, match=r"^scan\.png: unrecognised content"):
        load_image(path)
    with pytest.raises(ImageError, match=r"^upload-7: unrecognised content"):
        load_image(path.read_bytes(), name="upload-7")


def test_load_image_reads_paths_strings_and_bytes(tmp_path):
    data = encode_raster(Image.fromarray(GRAY), "PNG")
    path = tmp_path / "a.png"
    path.write_bytes(data)
    results = [load_image(path), load_image(str(path)), load_image(data), load_image(bytearray(data))]
    assert all(isinstance(r, Radiograph) and np.array_equal(r.pixels, results[0].pixels) for r in results)
    assert results[0].metadata["name"] == "a.png" and results[2].metadata["name"] == "image"
    assert results[0].metadata["file_bytes"] == len(data)


@pytest.mark.parametrize(
    ("make_source", "message"),
    [
        (lambda tmp: tmp / "missing.png", "no such file"),
        (lambda tmp: tmp, "not a file"),
        (lambda tmp: (tmp / "empty.jpg").write_bytes(b"") or tmp / "empty.jpg", "file is empty"),
        (lambda tmp: 42, "image source must be a path or bytes, got int"),
    ],
)
def test_load_image_refuses_bad_sources(tmp_path, make_source, message):
    with pytest.raises(ImageError, match=message):
        load_image(make_source(tmp_path))


@pytest.mark.parametrize(
    ("max_pixels", "frame", "message"),
    [(0, None, "max_pixels must be positive"), (10, -1, "frame must be 0 or more")],
)
def test_load_image_refuses_bad_arguments(max_pixels, frame, message):
    with pytest.raises(ImageError, match=message):
        load_image(encode_raster(Image.fromarray(GRAY), "PNG"), max_pixels=max_pixels, frame=frame)


@pytest.mark.parametrize("suffix", ["jpg", "dcm", "bmp", "txt"])
def test_load_image_trusts_content_not_the_file_name(tmp_path, suffix):
    path = tmp_path / f"really_a_png.{suffix}"
    path.write_bytes(encode_raster(Image.fromarray(GRAY), "PNG"))
    radiograph = load_image(path)
    assert radiograph.source_format == "png"
    assert np.array_equal(radiograph.pixels[..., 0], GRAY)


@pytest.mark.parametrize(
    ("name", "noted"),
    [("scan.jpg", True), ("scan.png", False), ("upload", False), ("synthetic radiograph", False)],
)
def test_only_a_suffix_that_names_another_format_is_noted(caplog, name, noted):
    caplog.set_level("INFO", logger="bonefrac.imaging.io")
    load_image(encode_raster(Image.fromarray(GRAY), "PNG"), name=name)
    notes = [r.getMessage() for r in caplog.records if "but holds" in r.getMessage()]
    assert notes == ([f"{name}: named .jpg but holds PNG; decoding it as PNG"] if noted else [])


def test_bench_image_is_not_noted_as_misnamed(caplog):
    from bonefrac.export.benchmark import bench_image

    caplog.set_level("INFO", logger="bonefrac.imaging.io")
    assert bench_image(shape=(96, 80)).source_format == "png"
    assert not [r for r in caplog.records if "but holds" in r.getMessage()]


def _valid_files():
    files = {fmt: encode_raster(Image.fromarray(GRAY), fmt) for fmt in ("JPEG", "PNG", "BMP", "TIFF")}
    files["DICOM"] = build_dicom(
        GRAY.astype(np.uint16) * 16, bits_stored=12, WindowCenter=2000, WindowWidth=4000
    )
    return files


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow and pydicom warn about what they skip
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF", "DICOM"])
def test_load_image_mutated_files_give_image_error_or_an_image(fmt):
    """Random byte flips and cuts never escape as anything but ImageError."""
    pytest.importorskip("pydicom")
    original = _valid_files()[fmt]
    rng = np.random.default_rng(1)
    for _ in range(60):
        data = bytearray(original)
        for position in rng.integers(0, len(data), rng.integers(1, 8)):
            data[position] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            data = data[: int(rng.integers(1, len(data)))]
        try:
            radiograph = load_image(bytes(data), max_pixels=1_000_000)
        except ImageError:
            continue
        assert radiograph.pixels.dtype == np.uint8 and radiograph.pixels.ndim == 3


def test_load_image_limit_holds_when_pillow_limit_is_disabled(monkeypatch):
    """Some libraries set Image.MAX_IMAGE_PIXELS = None; our header check does not depend on it."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ImageError, match="60000 x 60000 = 3,600,000,000 pixels, above the limit"):
        load_image(png_header_only(60000, 60000))


def test_load_image_allow_truncated_decodes_a_cut_jpeg_with_grey_rows():
    noisy = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    data = encode_raster(Image.fromarray(noisy), "JPEG")
    cut = data[: int(len(data) * 0.5)]
    with pytest.raises(ImageError, match="truncated"):
        load_image(cut)
    radiograph = load_image(cut, allow_truncated=True)
    assert radiograph.metadata["truncated"] is True
    assert radiograph.pixels.shape == (64, 64, 3)
    assert np.all(radiograph.pixels[-1] == 128)  # the missing rows, mid-grey as libjpeg fills them
    assert "truncated" not in load_image(data, allow_truncated=True).metadata


@pytest.mark.parametrize("cut_bytes", [2, 300])
def test_load_image_allow_truncated_matches_opencv_imread(tmp_path, cut_bytes):
    cv2 = pytest.importorskip("cv2")
    noisy = np.random.default_rng(1).integers(0, 256, (48, 40), dtype=np.uint8)
    path = tmp_path / "cut.jpg"
    path.write_bytes(encode_raster(Image.fromarray(noisy), "JPEG")[:-cut_bytes])
    ours = load_image(path, allow_truncated=True).pixels[..., 0]
    theirs = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)  # what ultralytics training reads
    assert theirs is not None and np.array_equal(ours, theirs)


def test_imaging_imports_neither_pydicom_nor_torch_until_needed():
    import subprocess
    import sys

    code = (
        "import sys, bonefrac.imaging.io, bonefrac.imaging.render;"
        "print(sorted(m for m in ('pydicom', 'torch', 'ultralytics', 'cv2') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "DICOM"])
def test_load_image_pixels_are_read_only_and_contiguous(fmt):
    pytest.importorskip("pydicom")
    radiograph = load_image(_valid_files()[fmt])
    assert not radiograph.pixels.flags.writeable and radiograph.pixels.flags.c_contiguous


def test_load_image_refuses_other_files_after_reading_only_their_head(tmp_path, monkeypatch):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100_000)
    reads = []
    real_open = type(path).open

    def counting_open(self, *args, **kwargs):
        handle = real_open(self, *args, **kwargs)
        real_read = handle.read
        handle.read = lambda size=-1: reads.append(size) or real_read(size)  # type: ignore[method-assign]
        return handle

    monkeypatch.setattr(type(path), "open", counting_open)
    with pytest.raises(ImageError, match="clip.mp4: an ISO media"):
        load_image(path)
    assert reads == [512]


def test_load_image_gives_the_same_pixels_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    pytest.importorskip("pydicom")
    files = list(_valid_files().values())
    expected = [load_image(data).pixels for data in files]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda data: load_image(data).pixels, files * 6))
    assert all(np.array_equal(out, expected[i % len(files)]) for i, out in enumerate(results))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "BMP", "TIFF", "DICOM"])
def test_load_image_metadata_is_plain_json(fmt):
    import json

    pytest.importorskip("pydicom")
    metadata = load_image(_valid_files()[fmt]).metadata
    assert json.loads(json.dumps(metadata)) == metadata
    assert {"format", "name", "original_width", "original_height", "mode", "bit_depth"} <= set(metadata)
