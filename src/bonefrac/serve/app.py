"""create_app(settings): the FastAPI application of the bonefrac service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from starlette.exceptions import HTTPException as StarletteHTTPException

from bonefrac import __version__
from bonefrac.infer.analysis import Classifier, Detector
from bonefrac.serve.middleware import RequestContextMiddleware
from bonefrac.serve.problems import (
    ApiError,
    handle_api_error,
    handle_http_exception,
    handle_unexpected,
    handle_validation_error,
)
from bonefrac.serve.routes import build_router
from bonefrac.serve.service import Service
from bonefrac.serve.settings import ServeSettings, load_settings

logger = logging.getLogger("bonefrac.serve")

DESCRIPTION = """Finds bone fractures on radiographs (JPEG, PNG, TIFF, BMP, WebP, DICOM)
with a YOLO11 ONNX model and, when the model card names one, an image-level fracture classifier.
Each image gets a call at two operating points (high specificity, high sensitivity); each box a tier.

**Research use only, not a medical device.** Every error answers with
`{"error": {"code": ..., "message": ...}, "request_id": ...}`.
"""


def create_app(
    settings: ServeSettings | None = None,
    engine: Detector | None = None,
    classifier: Classifier | None = None,
) -> FastAPI:
    """The app for `settings` (default: from BONEFRAC_* variables).

    The model (with the classifier its card names) loads and warms up in the background after start
    (/readyz says when); `engine` and `classifier` replace the onnxruntime engines (tests). Raises
    ConfigError for production without API keys or a missing model.
    """
    settings = settings or load_settings()
    service = Service(settings, engine=engine, classifier=classifier)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start()
        logger.info(
            "service starting",
            extra={
                "env": settings.env,
                "model_path": str(settings.model_path),
                "auth": service.keys.required,
            },
        )
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="bonefrac",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.service = service
    app.include_router(build_router(service))
    app.add_exception_handler(ApiError, handle_api_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(Exception, handle_unexpected)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=[settings.api_key_header, "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "X-Detections", "X-Threshold", "X-Call", "Retry-After"],
        )
    app.add_middleware(RequestContextMiddleware, service=service)
    return app
