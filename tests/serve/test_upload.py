"""The multipart upload reader: one file part into memory, a byte cap while streaming, a body time limit, the
image header screened as soon as it arrives."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from bonefrac.serve.upload import (
    HEAD_BYTES,
    BodyTimeout,
    ClientGone,
    InvalidUpload,
    UploadTooLarge,
    receive_upload,
)

CONTENT_TYPE = "multipart/form-data; boundary=bb"


def form(*parts: tuple[str, bytes], end: bool = True) -> bytes:
    body = b"".join(
        b'--bb\r\nContent-Disposition: form-data; name="%s"; filename="DOE_JOHN.jpg"\r\n\r\n%s\r\n'
        % (name.encode(), content)
        for name, content in parts
    )
    return body + (b"--bb--\r\n" if end else b"")


def chunks(body: bytes, size: int = 1000, then: list[dict] | None = None, complete: bool = True):
    """A `receive` that hands out `body` in chunks (the last says more is coming unless `complete`), then
    the `then` messages, then waits forever."""
    messages = [
        {
            "type": "http.request",
            "body": body[i : i + size],
            "more_body": i + size < len(body) or not complete,
        }
        for i in range(0, len(body), size)
    ] + (then or [])

    async def receive() -> dict:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    return receive


def read(receive, limit: int = 1_000_000, timeout: float = 5, **kwargs):
    return asyncio.run(receive_upload(receive, CONTENT_TYPE, limit, timeout, **kwargs))


def test_upload_reads_one_file_its_sha256_and_threshold():
    data = bytes(range(256)) * 40
    upload = read(chunks(form(("file", data), ("threshold", b"0.25"), ("other", b"ignored")), size=333))
    assert upload.data == data and upload.threshold == 0.25
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert "DOE_JOHN" not in repr(upload)  # the name goes back in the answer only
    assert upload.file_name == "DOE_JOHN.jpg"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (form(("file", b"a"), ("file", b"b")), "more than one 'file'"),
        (form(("image", b"a")), "'file' is missing"),
        (form(("file", b"a"), end=False), "not valid multipart"),
        (form(("file", b"a"), ("threshold", b"2")), "between 0 and 1"),
        (form(("file", b"a"), ("threshold", b"lots")), "between 0 and 1"),
        (form(("file" + "x" * 10_000, b"a")), "not valid multipart"),
    ],
    ids=[
        "two files",
        "no file",
        "no closing boundary",
        "threshold too high",
        "threshold not a number",
        "huge part header",
    ],
)
def test_upload_refuses_forms_other_than_the_documented_one(body, words):
    with pytest.raises(InvalidUpload, match=words):
        read(chunks(body))


def test_upload_refuses_a_body_that_is_not_multipart():
    with pytest.raises(InvalidUpload, match="'file' is missing"):
        asyncio.run(receive_upload(chunks(b"{}"), "application/json", 1000, 5))


def test_upload_stops_reading_past_the_limit():
    read_so_far = []
    receive = chunks(form(("file", b"x" * 50_000)))

    async def counting() -> dict:
        message = await receive()
        read_so_far.append(len(message.get("body", b"")))
        return message

    with pytest.raises(UploadTooLarge, match="10000 bytes"):
        read(counting, limit=10_000)
    assert sum(read_so_far) <= 11_000


def test_upload_times_out_when_the_body_stops_coming():
    with pytest.raises(BodyTimeout, match="0.2 s"):
        read(chunks(form(("file", b"x" * 5000), end=False), complete=False), timeout=0.2)


def test_upload_notices_a_client_that_hangs_up():
    with pytest.raises(ClientGone):
        read(chunks(form(("file", b"x" * 5000)), complete=False, then=[{"type": "http.disconnect"}]))


def test_upload_head_is_screened_before_the_rest_arrives():
    seen: list[int] = []
    received: list[int] = []
    receive = chunks(form(("file", b"h" * (4 * HEAD_BYTES))), size=8192)

    async def counting() -> dict:
        message = await receive()
        received.append(len(message.get("body", b"")))
        return message

    def refuse(head: bytes) -> None:
        seen.append(len(head))
        raise ValueError("refused from its header")

    with pytest.raises(ValueError, match="from its header"):
        read(counting, on_file_head=refuse)
    assert seen == [HEAD_BYTES] and sum(received) < 2 * HEAD_BYTES


def test_upload_small_file_is_screened_whole():
    seen: list[bytes] = []
    upload = read(chunks(form(("file", b"tiny"))), on_file_head=seen.append)
    assert seen == [b"tiny"] and upload.data == b"tiny"
