import pytest

from bonefrac.imaging.sniff import accepted_formats_text, describe_unaccepted, sniff_format


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        (b"BM" + b"\x00" * 30, "bmp"),
        (b"II*\x00\x08\x00\x00\x00", "tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "tiff"),
        (b"II+\x00\x08\x00\x00\x00", "tiff"),  # BigTIFF
        (b"RIFF\x00\x00\x00\x00WEBPVP8L", "webp"),
        (b"\x00" * 128 + b"DICM\x02\x00", "dicom"),
        (b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100", "dicom"),  # bare explicit VR data set
        (b"\x08\x00\x16\x00\x1a\x00\x00\x001.2.840", "dicom"),  # bare implicit VR data set
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"BM", None),  # too short to be a bitmap
        (b"\x08\x00\x00\x10\xff\xff\xff\xff", None),
        (b"hello", None),
        (b"", None),
    ],
)
def test_sniff_format_reads_magic_numbers(head, fmt):
    assert sniff_format(head) == fmt


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"GIF87a", "GIF"),
        (b"\x00\x00\x00\x18ftypavif", "AVIF"),
        (b"\x00\x00\x00\x18ftypmp42", "ISO media (MP4/HEIF family)"),
        (b"\x1f\x8b\x08", "gzip archive"),
        (b"  <?xml version='1.0'?>", "SVG/XML text"),
        (b"\x00" * 344 + b"n+1\x00", "NIfTI"),
        (b"plain text", None),
    ],
)
def test_describe_unaccepted_names_known_formats(head, name):
    assert describe_unaccepted(head) == name


def test_accepted_formats_text_lists_every_format():
    assert accepted_formats_text() == "JPEG, PNG, BMP, TIFF, WebP, DICOM"
