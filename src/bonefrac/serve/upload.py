"""Reads one multipart upload from the ASGI stream into memory: a byte cap enforced while it streams, a time
limit for the whole body, exactly one `file` part, an optional `threshold` field, the sha256 computed as the
bytes arrive. Nothing is written to disk and the file name is never kept (it can carry patient data).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.types import Receive

FILE_FIELD = "file"
HEAD_BYTES = 65_536  # enough for the size fields of every accepted format's header
THRESHOLD_FIELD = "threshold"
_SMALL_FIELD_BYTES = 64  # a threshold is a short number; anything longer is not one


class UploadTooLarge(Exception):
    """The body passed BONEFRAC_MAX_UPLOAD_BYTES (declared or while streaming)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload is larger than the limit of {limit} bytes (BONEFRAC_MAX_UPLOAD_BYTES)")


class InvalidUpload(Exception):
    """The body is not the multipart form the route documents (missing, doubled or broken parts)."""


class BodyTimeout(Exception):
    """The client did not send its whole body within BONEFRAC_BODY_TIMEOUT_S."""


class ClientGone(Exception):
    """The client closed the connection before its answer was ready."""


@dataclass(frozen=True)
class Upload:
    """The uploaded file's bytes, their sha256, the form's threshold (None when not sent) and the file's
    name as the client gave it: it goes back in the answer only, never logged or stored (it can name a
    patient)."""

    data: bytes
    sha256: str
    threshold: float | None
    file_name: str | None = field(default=None, repr=False)  # kept out of every repr and log line


MAX_FILE_NAME = 255  # characters of the client's file name given back


class _Form:
    """Collects the parts python-multipart's streaming parser reports."""

    def __init__(self, on_file_head: Callable[[bytes], object] | None) -> None:
        self.on_file_head = on_file_head
        self.file: io.BytesIO | None = None  # getvalue() hands over its buffer: no second copy
        self.files = 0
        self.hasher = hashlib.sha256()
        self.threshold: bytearray | None = None
        self.file_name: str | None = None
        self._field: str | None = None
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }

    def _part_begin(self) -> None:
        self._field, self._disposition = None, b""
        self._header_name = self._header_value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]  # python-multipart caps a part's header size

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("latin-1")
        if name == FILE_FIELD:
            self.files += 1
            if self.files > 1:
                raise InvalidUpload(
                    "the form has more than one 'file' part; send exactly one image per request"
                )
            self.file = io.BytesIO()
            given = options.get(b"filename", b"").decode("utf-8", "replace")
            self.file_name = given.replace("\\", "/").rsplit("/", 1)[-1][:MAX_FILE_NAME] or None
        elif name == THRESHOLD_FIELD:
            self.threshold = bytearray()
        self._field = name

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._field == FILE_FIELD and self.file is not None:
            self.file.write(chunk)
            self.hasher.update(chunk)
            if self.on_file_head is not None and self.file.tell() >= HEAD_BYTES:
                self.screen_head()
        elif self._field == THRESHOLD_FIELD and self.threshold is not None:
            self.threshold += chunk
            if len(self.threshold) > _SMALL_FIELD_BYTES:
                raise InvalidUpload(
                    f"threshold: expected a number between 0 and 1, got {len(self.threshold)} bytes"
                )

    def screen_head(self) -> None:
        """Hand the file's first bytes to `on_file_head` once (it may refuse the upload there)."""
        if self.on_file_head is not None and self.file is not None:
            check, self.on_file_head = self.on_file_head, None
            check(self.file.getvalue()[:HEAD_BYTES])


def multipart_boundary(content_type: str | None) -> bytes:
    """The boundary of a multipart/form-data Content-Type; InvalidUpload for anything else."""
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise InvalidUpload(
            "multipart form field 'file' is missing: send the image as multipart/form-data 'file' "
            f"(the body was {(kind.decode('latin-1') or 'without a Content-Type')})"
        )
    return options[b"boundary"]


def parse_threshold(raw: bytes | bytearray | None) -> float | None:
    """The form's threshold as a float in 0..1; InvalidUpload names what arrived otherwise."""
    if raw is None:
        return None
    text = raw.decode("utf-8", "replace").strip()
    try:
        value = float(text)
    except ValueError:
        raise InvalidUpload(f"threshold: expected a number between 0 and 1, got {text[:20]!r}") from None
    if not 0.0 <= value <= 1.0:
        raise InvalidUpload(f"threshold: expected a number between 0 and 1, got {value:g}")
    return value


async def receive_upload(
    receive: Receive,
    content_type: str | None,
    limit: int,
    timeout_s: float,
    on_file_head: Callable[[bytes], object] | None = None,
) -> Upload:
    """Read the request body through `receive` and return its one image and threshold.

    `on_file_head` sees the file's first HEAD_BYTES (or all of a smaller file) as soon as they arrive; what
    it raises ends the upload there, before the rest of the body is read.

    Raises UploadTooLarge past `limit` bytes (the rest is never read), BodyTimeout when the body does not
    arrive within `timeout_s`, ClientGone on a disconnect, InvalidUpload for a form that is not the one
    documented.
    """
    boundary = multipart_boundary(content_type)
    form = _Form(on_file_head)
    parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout_s
    seen = 0
    more = True
    while more:
        try:
            message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
        except TimeoutError:
            raise BodyTimeout(
                f"the request body did not arrive within {timeout_s:g} s (BONEFRAC_BODY_TIMEOUT_S)"
            ) from None
        if message["type"] == "http.disconnect":
            raise ClientGone("the client closed the connection while sending its upload")
        chunk = message.get("body", b"")
        more = message.get("more_body", False)
        seen += len(chunk)
        if seen > limit:
            raise UploadTooLarge(limit)
        try:
            parser.write(chunk)
        except MultipartParseError as exc:
            raise InvalidUpload(f"the body is not valid multipart/form-data ({exc})") from None
    parser.finalize()
    if parser.state != MultipartState.END:
        raise InvalidUpload("the body is not valid multipart/form-data (it ends before the closing boundary)")
    if form.file is None:
        raise InvalidUpload(
            "multipart form field 'file' is missing: send the image as multipart/form-data 'file'"
        )
    form.screen_head()
    data = form.file.getvalue()
    form.file = None
    threshold = parse_threshold(form.threshold)
    return Upload(data=data, sha256=form.hasher.hexdigest(), threshold=threshold, file_name=form.file_name)
