"""One pure-ASGI middleware around every request: request id, upload size limit while streaming, audit row,
metrics and the JSON access log."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bonefrac.serve.audit import AuditEntry
from bonefrac.serve.problems import error_response

if TYPE_CHECKING:
    from bonefrac.serve.service import Service

access_logger = logging.getLogger("bonefrac.serve.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
AUDITED_PREFIX = "/v1/"
LIMITED_PREFIX = "/v1/detect"
PROBES = ("/healthz", "/readyz", "/metrics")


class UploadTooLarge(HTTPException):
    """Raised from `receive` as soon as the streamed body passes the limit (FastAPI re-raises it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"the upload is larger than the limit of {limit} bytes (BONEFRAC_MAX_UPLOAD_BYTES)"
        )


def _route_label(path: str) -> str:
    """A bounded set of metric labels: known routes, everything else 'other'."""
    known = ("/v1/detect/annotated", "/v1/detect", "/v1/model", "/healthz", "/readyz", "/metrics")
    return (
        path if path in known else ("/docs" if path.startswith(("/docs", "/openapi", "/redoc")) else "other")
    )


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        service = self.service
        started = time.perf_counter()
        headers = Headers(scope=scope)
        offered = headers.get("x-request-id", "")
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        path: str = scope.get("path", "")
        route = _route_label(path)
        entry: AuditEntry | None = None
        if path.startswith(AUDITED_PREFIX):
            client = scope.get("client")
            entry = AuditEntry(
                request_id=request_id, route=path[:64], client_address=client[0] if client else None
            )
            state["audit"] = entry
        status_holder = {"status": 500}
        service.metrics.in_flight.inc()

        async def send_with_context(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
                if entry is not None:
                    entry.status_code = message["status"]
                    entry.outcome = state.get("error_code") or ("ok" if message["status"] < 400 else "error")
                    entry.duration_ms = round((time.perf_counter() - started) * 1000, 2)
                    await service.audit.write_async(entry)
            await send(message)

        limited_receive = receive
        if path.startswith(LIMITED_PREFIX) and scope.get("method") == "POST":
            limit = service.settings.max_upload_bytes
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                state["error_code"] = "upload_too_large"
                service.metrics.rejections.labels("upload_too_large").inc()
                response = error_response(request_id, 413, "upload_too_large", UploadTooLarge(limit).detail)
                response.headers["Connection"] = "close"
                try:
                    await response(scope, receive, send_with_context)
                finally:
                    self._finish(scope, route, status_holder["status"], started, state)
                return
            limited_receive = _counting_receive(receive, limit, state, service)

        try:
            await self.app(scope, limited_receive, send_with_context)
        finally:
            self._finish(scope, route, status_holder["status"], started, state)

    def _finish(self, scope: Scope, route: str, status: int, started: float, state: dict[str, Any]) -> None:
        elapsed = time.perf_counter() - started
        metrics = self.service.metrics
        metrics.in_flight.dec()
        metrics.requests.labels(scope.get("method", ""), route, str(status)).inc()
        metrics.latency.labels(route).observe(elapsed)
        entry = state.get("audit")
        quiet = route in PROBES and status < 400  # probes every few seconds would drown the log
        access_logger.log(
            logging.DEBUG if quiet else logging.INFO,
            "request",
            extra={
                "request_id": state.get("request_id"),
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "outcome": state.get("error_code") or ("ok" if status < 400 else "error"),
                "client_key_id": entry.client_key_id if entry else None,
                "image_sha256": entry.image_sha256 if entry else None,
                "call": entry.image_call if entry else None,
                "detections": len(entry.detections) if entry and entry.detections is not None else None,
            },
        )


def _counting_receive(receive: Receive, limit: int, state: dict[str, Any], service: Service) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                state["error_code"] = "upload_too_large"
                service.metrics.rejections.labels("upload_too_large").inc()
                raise UploadTooLarge(limit)
        return message

    return counted
