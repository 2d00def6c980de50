"""create_app(settings): the FastAPI application of the bonefrac service."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from bonefrac import __version__
from bonefrac.infer.analysis import Classifier, Detector
from bonefrac.serve.middleware import RequestContextMiddleware
from bonefrac.serve.problems import install_error_handlers
from bonefrac.serve.routes import ROUTERS
from bonefrac.serve.routes.docs import ASSETS_PATH, assets_folder
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
        docs_url=None,  # served by routes.docs with local assets
        redoc_url=None,
    )
    app.state.service = service
    for router in ROUTERS:
        app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=assets_folder()), name="docs-assets")
    install_error_handlers(app)
    _declare_api_key_when_required(app, service)
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


def _declare_api_key_when_required(app: FastAPI, service: Service) -> None:
    """The OpenAPI schema declares the API-key header on /v1/* exactly when keys are configured."""

    def schema() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            if service.keys.required:
                scheme = {"type": "apiKey", "in": "header", "name": service.keys.header}
                document.setdefault("components", {}).setdefault("securitySchemes", {})["ApiKey"] = scheme
                for path, operations in document.get("paths", {}).items():
                    if path.startswith("/v1/"):
                        for operation in operations.values():
                            operation["security"] = [{"ApiKey": []}]
            else:
                for operations in document.get("paths", {}).values():
                    for operation in operations.values():
                        operation.get("responses", {}).pop("401", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = schema  # type: ignore[method-assign]
