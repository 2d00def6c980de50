"""Which image format a file holds, from its first bytes (magic numbers), never from its name."""

from __future__ import annotations

# Formats load_image decodes, with the names used in messages.
ACCEPTED_FORMATS: dict[str, str] = {
    "jpeg": "JPEG",
    "png": "PNG",
    "bmp": "BMP",
    "tiff": "TIFF",
    "webp": "WebP",
    "dicom": "DICOM",
}

# Formats we recognise but do not accept, so the refusal can name what arrived.
_KNOWN_REFUSED: tuple[tuple[int, bytes, str], ...] = (
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (0, b"%PDF", "PDF"),
    (0, b"PK\x03\x04", "ZIP archive"),
    (0, b"\x1f\x8b", "gzip archive"),
    (0, b"8BPS", "Photoshop PSD"),
    (0, b"\x00\x00\x01\x00", "Windows icon"),
    (344, b"n+1\x00", "NIfTI"),
    (0, b"\x5c\x01\x00\x00", "NIfTI"),
)

_ISO_BMFF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF", b"avis": "AVIF"}


def accepted_formats_text() -> str:
    """'JPEG, PNG, BMP, TIFF, WebP, DICOM' for error messages."""
    return ", ".join(ACCEPTED_FORMATS.values())


# The Pillow plugins each accepted raster format may be opened with (nothing else is tried on a file).
PILLOW_FORMATS: dict[str, list[str]] = {
    "jpeg": ["JPEG"],
    "png": ["PNG"],
    "bmp": ["BMP", "DIB"],
    "tiff": ["TIFF"],
    "webp": ["WEBP"],
}


def sniff_format(head: bytes) -> str | None:
    """The accepted format (a key of ACCEPTED_FORMATS) that `head` starts with, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if _looks_like_dicom(head):
        return "dicom"
    return None


def describe_unaccepted(head: bytes) -> str | None:
    """A name for a format we recognise but refuse (GIF, PDF, ...), or None if unrecognised."""
    for offset, magic, name in _KNOWN_REFUSED:
        if head[offset : offset + len(magic)] == magic:
            return name
    if head[4:8] == b"ftyp":
        return _ISO_BMFF_BRANDS.get(head[8:12], "ISO media (MP4/HEIF family)")
    if head.lstrip()[:5].lower() in (b"<?xml", b"<svg ") or head.lstrip()[:4].lower() == b"<svg":
        return "SVG/XML text"
    return None


def _looks_like_dicom(head: bytes) -> bool:
    """Part 10 files ('DICM' after a 128-byte preamble), or a bare little-endian data set.

    A bare data set (no preamble; some old or exported files) starts with a group 0002 or 0008
    element: tag (group, element) then either a two-letter VR (explicit VR) or a 4-byte length.
    """
    if head[128:132] == b"DICM":
        return True
    if len(head) < 8 or head[:2] not in (b"\x02\x00", b"\x08\x00"):
        return False
    element = int.from_bytes(head[2:4], "little")
    if element > 0x0100:
        return False
    vr = head[4:6]
    return vr.isalpha() and vr.isupper() or int.from_bytes(head[4:8], "little") < 0x10000
