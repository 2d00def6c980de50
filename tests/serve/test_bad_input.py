"""Every bad input gets a 4xx with the JSON error body, never a 500, and the service keeps answering."""

from __future__ import annotations

import struct
import zlib

import pytest


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's calling card)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _check_error(response, status: int, code: str, words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["code"] == code
    assert words.lower() in body["error"]["message"].lower(), body["error"]["message"]
    assert body["request_id"] == response.headers["X-Request-ID"]


CASES = [
    # (name, request kwargs builder, status, code, words in message)
    ("empty body", lambda s: {}, 422, "invalid_request", "'file' is missing"),
    ("wrong field", lambda s: {"files": {"image": s.png()}}, 422, "invalid_request", "'file' is missing"),
    ("json body", lambda s: {"json": {"file": "x"}}, 422, "invalid_request", "'file' is missing"),
    ("empty file", lambda s: {"files": {"file": ("a.png", b"")}}, 422, "invalid_image", "empty"),
    (
        "non-image bytes",
        lambda s: {"files": {"file": ("a.png", b"hello world" * 10)}},
        422,
        "invalid_image",
        "accepted formats",
    ),
    ("pdf", lambda s: {"files": {"file": ("a.jpg", b"%PDF-1.4 ...")}}, 422, "invalid_image", "PDF"),
    ("truncated png", lambda s: {"files": {"file": s.png()[:200]}}, 422, "invalid_image", "png"),
    ("truncated jpeg", lambda s: {"files": {"file": s.jpeg()[:150]}}, 422, "invalid_image", "jpeg"),
    (
        "decompression bomb",
        lambda s: {"files": {"file": _png_claiming(100_000, 100_000)}},
        422,
        "invalid_image",
        "limit",
    ),
    (
        "dicom without pixels",
        lambda s: {"files": {"file": s.dicom(with_pixels=False)}},
        422,
        "invalid_image",
        "pixel",
    ),
    (
        "threshold not a number",
        lambda s: {"files": {"file": s.png()}, "data": {"threshold": "high"}},
        422,
        "invalid_request",
        "threshold",
    ),
    (
        "threshold above 1",
        lambda s: {"files": {"file": s.png()}, "data": {"threshold": "1.5"}},
        422,
        "invalid_request",
        "threshold",
    ),
    (
        "threshold below 0",
        lambda s: {"files": {"file": s.png()}, "data": {"threshold": "-0.1"}},
        422,
        "invalid_request",
        "threshold",
    ),
    (
        "broken multipart",
        lambda s: {
            "content": b"--xyz\r\nnonsense",
            "headers": {"content-type": "multipart/form-data; boundary=xyz"},
        },
        422,
        "invalid_request",
        "not valid multipart/form-data",
    ),
]


@pytest.mark.parametrize("route", ["/v1/detect", "/v1/detect/annotated"])
@pytest.mark.parametrize(("name", "build", "status", "code", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_4xx_json(client, samples, route, name, build, status, code, words):
    _check_error(client.post(route, **build(samples)), status, code, words)
    assert client.post(route, files={"file": samples.png()}).status_code == 200  # still serving


def test_bad_input_huge_dimensions_over_the_pixel_setting(client_for, samples):
    client = client_for(max_image_pixels=5000)
    _check_error(
        client.post("/v1/detect", files={"file": samples.png((96, 80))}), 422, "invalid_image", "7,680"
    )


def test_bad_input_oversize_upload_declared_length(client_for, samples):
    client = client_for(max_upload_bytes=2000)
    response = client.post("/v1/detect", files={"file": samples.png((200, 200))})
    _check_error(response, 413, "upload_too_large", "2000 bytes")


def test_bad_input_oversize_upload_streamed_without_length(client_for, samples):
    """Chunked upload with no Content-Length: refused by counting the streamed bytes (the real server test
    shows that it stops reading early; TestClient buffers the whole body first)."""
    client = client_for(max_upload_bytes=5000)
    sent = []
    boundary = "b0undary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'.encode()

    def body():
        yield head
        for _ in range(1000):  # up to 1 MB if nobody stops us
            sent.append(1)
            yield b"\x00" * 1024

    response = client.post(
        "/v1/detect", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    _check_error(response, 413, "upload_too_large", "5000 bytes")


def test_bad_input_unknown_route_and_method(client):
    _check_error(client.get("/v1/nothing"), 404, "not_found", "not found")
    _check_error(client.get("/v1/detect"), 405, "method_not_allowed", "method not allowed")
