"""One pure-ASGI middleware around every request: the request id, the request-head limits, the audit row
(written before the answer leaves, or the answer becomes a 503), the last-resort 500, metrics and the JSON
access log."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bonefrac.serve.audit import AuditEntry, AuditUnavailable
from bonefrac.serve.problems import error_body, error_response

if TYPE_CHECKING:
    from bonefrac.serve.service import Service

logger = logging.getLogger("bonefrac.serve")
access_logger = logging.getLogger("bonefrac.serve.access")
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
AUDITED_PREFIX = "/v1/"
PROBES = ("/healthz", "/readyz", "/metrics")
UNAUDITED_STATUSES = (401,)  # unauthenticated attempts are counted in /metrics, never stored


def _route_label(path: str) -> str:
    """A bounded set of metric labels: known routes, everything else 'other'."""
    known = ("/v1/detect/annotated", "/v1/detect", "/v1/model", "/healthz", "/readyz", "/metrics")
    return (
        path if path in known else ("/docs" if path.startswith(("/docs", "/openapi", "/redoc")) else "other")
    )


def head_size(scope: Scope) -> tuple[int, int]:
    """(bytes, count) of the request's headers as the server parsed them."""
    headers = scope.get("headers", [])
    return sum(len(name) + len(value) + 4 for name, value in headers), len(headers)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        service = self.service
        settings = service.settings
        started = time.perf_counter()
        headers = Headers(scope=scope)
        request_id = uuid.uuid4().hex  # always the service's own: unique in the audit log
        offered = headers.get("x-request-id", "")
        client_request_id = offered if _CLIENT_REQUEST_ID.match(offered) else None
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        path: str = scope.get("path", "")
        route = _route_label(path)
        entry: AuditEntry | None = None
        if path.startswith(AUDITED_PREFIX):
            client = scope.get("client")
            entry = AuditEntry(
                request_id=request_id,
                client_request_id=client_request_id,
                route=path[:64],
                client_address=client[0] if client else None,
            )
            state["audit"] = entry
        progress = {"status": 500, "started": False, "replaced": False}
        service.metrics.in_flight.inc()

        async def send_with_context(message: Message) -> None:
            if progress["replaced"]:
                return  # the answer became a 503: the app's own answer is dropped
            if message["type"] == "http.response.start":
                status = message["status"]
                progress["status"], progress["started"] = status, True
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
                if entry is not None and status not in UNAUDITED_STATUSES:
                    entry.status_code = status
                    entry.outcome = state.get("error_code") or ("ok" if status < 400 else "error")
                    entry.duration_ms = round((time.perf_counter() - started) * 1000, 2)
                    try:
                        await service.audit.write_async(entry)
                    except AuditUnavailable as exc:
                        progress["replaced"], progress["status"] = True, 503
                        state["error_code"] = "audit_unavailable"
                        service.metrics.rejections.labels("audit_unavailable").inc()
                        await _send_error(
                            send, request_id, 503, "audit_unavailable", str(exc), settings.retry_after_s
                        )
                        return
            await send(message)

        try:
            size, count = head_size(scope)
            if size > settings.max_header_bytes or count > settings.max_header_count:
                state["error_code"] = "headers_too_large"
                service.metrics.rejections.labels("headers_too_large").inc()
                message = (
                    f"the request headers ({count} headers, {size} bytes) pass the limit of "
                    f"{settings.max_header_count} headers and {settings.max_header_bytes} bytes "
                    "(BONEFRAC_MAX_HEADER_COUNT, BONEFRAC_MAX_HEADER_BYTES)"
                )
                response = error_response(
                    request_id, 431, "headers_too_large", message, {"Connection": "close"}
                )
                await response(scope, receive, send_with_context)
            else:
                await self.app(scope, receive, send_with_context)
        except Exception as exc:  # the app's own handlers answered everything they know
            logger.error("unexpected error", exc_info=exc, extra={"request_id": request_id})
            state["error_code"] = "internal_error"
            if not progress["started"]:
                response = error_response(
                    request_id, 500, "internal_error", "unexpected server error; see the logs"
                )
                await response(scope, receive, send_with_context)
        finally:
            self._finish(scope, route, int(progress["status"]), started, state, client_request_id)

    def _finish(
        self,
        scope: Scope,
        route: str,
        status: int,
        started: float,
        state: dict[str, Any],
        client_request_id: str | None,
    ) -> None:
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
                "client_request_id": client_request_id,
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


async def _send_error(
    send: Send, request_id: str, status: int, code: str, message: str, retry_after: int
) -> None:
    body = json.dumps(error_body(request_id, code, message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
                (b"retry-after", str(retry_after).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
