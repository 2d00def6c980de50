"""API errors: one exception type the routes raise and the JSON error body every 4xx/5xx answer carries."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    """An answer other than success: HTTP status, machine code, readable message, extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def error_response(
    request_id: str, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}, "request_id": request_id}
    return JSONResponse(body, status_code=status, headers=headers)


def _note_outcome(request: Request, code: str) -> None:
    request.state.error_code = code


async def handle_api_error(request: Request, exc: Exception) -> JSONResponse:
    error = exc if isinstance(exc, ApiError) else ApiError(500, "internal_error", str(exc))
    _note_outcome(request, error.code)
    return error_response(request_id_of(request), error.status, error.code, error.message, error.headers)


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for item in exc.errors():
        loc = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "header")]
        where = ".".join(loc) or "request"
        if item.get("type") == "missing":
            if where == "file":
                parts.append(
                    "multipart form field 'file' is missing: send the image as multipart/form-data 'file'"
                )
            else:
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
    if status == 400 and "parsing the body" in str(detail):
        code, detail = (
            "invalid_body",
            "the body could not be parsed: send multipart/form-data with a 'file' field",
        )
    _note_outcome(request, code)
    return error_response(request_id_of(request), status, code, str(detail), headers)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: log it, answer 500 with the request id, keep serving."""
    import logging

    logging.getLogger("bonefrac.serve").exception(
        "unexpected error", extra={"request_id": request_id_of(request)}
    )
    _note_outcome(request, "internal_error")
    return error_response(
        request_id_of(request), 500, "internal_error", "unexpected server error; see the logs"
    )
