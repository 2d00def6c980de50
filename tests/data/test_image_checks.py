from pathlib import Path

import pytest
from data_helpers import jpeg_bytes, radiograph
from PIL import Image

from bonefrac.data.image_checks import scan_image


def test_scan_image_reads_a_good_png(tmp_path):
    path = tmp_path / "a.png"
    radiograph(0).save(path)
    scan = scan_image(path)
    assert (scan.status, scan.problem, scan.width, scan.height) == ("ok", "", 96, 96)
    assert scan.strict_decode and scan.thumbnail is not None and scan.thumbnail.shape == (64, 64)


def test_scan_image_flags_a_truncated_jpeg_that_only_loads_leniently(tmp_path):
    data = jpeg_bytes(radiograph(1, size=256))
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    scan = scan_image(path)
    assert scan.status == "truncated" and not scan.strict_decode
    assert "lenient" in scan.problem and scan.valid_rows < scan.height


def test_scan_image_flags_a_jpeg_without_end_marker(tmp_path):
    path = tmp_path / "no_eoi.jpg"
    path.write_bytes(jpeg_bytes(radiograph(2))[:-2])
    scan = scan_image(path)
    assert scan.status == "truncated" and "FF D9" in scan.problem or "lenient" in scan.problem


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b"GIF89a-not-really", "cannot be decoded"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, "decoded"),
    ],
)
def test_scan_image_reports_undecodable_files_as_corrupt(tmp_path, content, fragment):
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    scan = scan_image(path)
    assert scan.status == "corrupt" and fragment in scan.problem and scan.thumbnail is None


def test_scan_image_reports_exif_orientation(tmp_path):
    image = radiograph(3).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif)
    assert scan_image(path).exif_orientation == 6


def test_scan_image_of_a_missing_file_is_corrupt(tmp_path):
    scan = scan_image(Path(tmp_path / "absent.png"))
    assert scan.status == "corrupt" and "cannot be read" in scan.problem
