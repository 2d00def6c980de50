"""API errors: one table from library errors to HTTP answers, and the JSON error body every 4xx/5xx carries.

Routes and dependencies raise library errors (ImageError, Overloaded, UploadTooLarge, ...); this module alone
decides their status, code and headers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bonefrac.errors import ImageError
from bonefrac.serve.gate import Overloaded, TimedOut
from bonefrac.serve.security import NotAuthenticated
from bonefrac.serve.service import DicomUnavailable, NoModelCard, NotReady
from bonefrac.serve.upload import BodyTimeout, ClientGone, InvalidUpload, UploadTooLarge

logger = logging.getLogger("bonefrac.serve")
CLIENT_CLOSED = 499  # nginx's code for a client that went away before its answer


@dataclass(frozen=True)
class Problem:
    """How one kind of error is answered; `retry` adds Retry-After, `close` ends the connection (the body
    may be unread), `slow` answers after BONEFRAC_REFUSAL_DELAY_S (its gate place already given back)."""

    status: int
    code: str
    retry: bool = False
    close: bool = False
    slow: bool = False
    suffix: str = ""
    headers: tuple[tuple[str, str], ...] = ()


PROBLEMS: dict[type[Exception], Problem] = {
    NotAuthenticated: Problem(401, "unauthorized", close=True, headers=(("WWW-Authenticate", "ApiKey"),)),
    BodyTimeout: Problem(408, "body_timeout", close=True),
    UploadTooLarge: Problem(413, "upload_too_large", close=True),
    InvalidUpload: Problem(422, "invalid_request", close=True),
    ImageError: Problem(422, "invalid_image", close=True, slow=True),
    ClientGone: Problem(CLIENT_CLOSED, "client_disconnected", close=True),
    NoModelCard: Problem(404, "no_model_card"),
    DicomUnavailable: Problem(501, "dicom_unavailable"),
    NotReady: Problem(503, "not_ready", retry=True),
    Overloaded: Problem(503, "queue_full", retry=True, close=True, slow=True, suffix="; retry later"),
    TimedOut: Problem(503, "timeout", retry=True, suffix=" (BONEFRAC_REQUEST_TIMEOUT_S); retry later"),
}


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def error_body(request_id: str, code: str, message: str) -> dict[str, object]:
    return {"error": {"code": code, "message": message}, "request_id": request_id}


def error_response(
    request_id: str, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(request_id, code, message), status_code=status, headers=headers)


def _note_outcome(request: Request, code: str) -> None:
    request.state.error_code = code


def _message(problem: Problem, exc: Exception) -> str:
    text = str(exc)
    if problem.code == "not_ready":
        text = f"the model is not ready yet ({text})"
    elif problem.code == "queue_full":
        text = f"the service is busy: {text}"
    return text + problem.suffix


def _problem_for(exc: Exception) -> Problem | None:
    for kind in type(exc).__mro__:
        if kind in PROBLEMS:
            return PROBLEMS[kind]
    return None


async def handle_library_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer an error of the PROBLEMS table; counted in bonefrac_rejections_total by its code."""
    problem = _problem_for(exc)
    if problem is None:
        return await handle_unexpected(request, exc)
    headers = dict(problem.headers)
    service = getattr(request.app.state, "service", None)
    if problem.retry and service is not None:
        headers["Retry-After"] = str(service.settings.retry_after_s)
    if problem.close:
        headers["Connection"] = "close"
    if service is not None and problem.code != "invalid_request":
        service.metrics.rejections.labels(problem.code).inc()
    if service is not None and problem.slow and service.settings.refusal_delay_s > 0:
        await asyncio.sleep(service.settings.refusal_delay_s)
    _note_outcome(request, problem.code)
    return error_response(
        request_id_of(request), problem.status, problem.code, _message(problem, exc), headers
    )


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors():
        loc = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "header")]
        where = ".".join(loc) or "request"
        if item.get("type") == "missing":
            parts.append(f"{where} is required")
        else:
            parts.append(f"{where}: {item.get('msg')} (got {str(item.get('input'))[:60]!r})")
    return "; ".join(parts) or "the request is not valid"


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    message = _describe_validation(exc) if isinstance(exc, RequestValidationError) else str(exc)
    _note_outcome(request, "invalid_request")
    return error_response(request_id_of(request), 422, "invalid_request", message)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "upload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    503: "unavailable",
}


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
    headers = getattr(exc, "headers", None)
    code = _HTTP_CODES.get(status, "error")
    _note_outcome(request, code)
    return error_response(request_id_of(request), status, code, str(detail), headers)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort inside the app: log it, answer 500 with the request id, keep serving."""
    logger.error("unexpected error", exc_info=exc, extra={"request_id": request_id_of(request)})
    _note_outcome(request, "internal_error")
    return error_response(
        request_id_of(request), 500, "internal_error", "unexpected server error; see the logs"
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error of the table, HTTP and validation errors, each answered with the JSON error body."""
    for kind in PROBLEMS:
        app.add_exception_handler(kind, handle_library_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
