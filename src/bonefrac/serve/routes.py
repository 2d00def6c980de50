"""HTTP routes. HTTP errors are raised here (ApiError) and nowhere else; the work happens in Service."""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Security, UploadFile
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader

from bonefrac.card.record import MARKDOWN_FILENAME, markdown_path_for
from bonefrac.errors import ImageError
from bonefrac.infer.result_schema import model_info, operating_points_info
from bonefrac.serve.audit import AuditEntry
from bonefrac.serve.limits import Overloaded, TimedOut
from bonefrac.serve.problems import ApiError
from bonefrac.serve.schemas import (
    DetectResponse,
    ErrorBody,
    HealthResponse,
    ModelCardResponse,
    ReadyResponse,
    Timings,
)
from bonefrac.serve.service import Analysis, NotReady, Service

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "API key missing or wrong"},
    413: {"model": ErrorBody, "description": "Upload larger than BONEFRAC_MAX_UPLOAD_BYTES"},
    422: {"model": ErrorBody, "description": "Not a usable image, or a bad field"},
    503: {"model": ErrorBody, "description": "Not ready, queue full or timed out; see Retry-After"},
}
ThresholdField = Annotated[
    float | None,
    Form(
        ge=0.0,
        le=1.0,
        description="Lowest box confidence 0..1: replaces the high-sensitivity box threshold and shows boxes "
        "on images of any call (boxes below the high-specificity one are dashed); default: the model's "
        "operating points.",
    ),
]
ImageField = Annotated[UploadFile, File(description="The radiograph: JPEG, PNG, TIFF, BMP, WebP or DICOM.")]


def _audit(request: Request) -> AuditEntry | None:
    return getattr(request.state, "audit", None)


def build_router(service: Service) -> APIRouter:
    settings = service.settings
    key_header = APIKeyHeader(
        name=settings.api_key_header, auto_error=False, description="API key (required in production)"
    )
    retry = {"Retry-After": str(settings.retry_after_s)}

    def require_key(request: Request, presented: str | None = Security(key_header)) -> str | None:
        if not service.keys.required:
            return None
        key_id = service.keys.identify(presented)
        if key_id is None:
            service.metrics.rejections.labels("unauthorized").inc()
            what = "missing" if not presented else "not valid"
            raise ApiError(
                401,
                "unauthorized",
                f"API key {what}: send a valid key in the {settings.api_key_header} header",
                {"WWW-Authenticate": "ApiKey"},
            )
        entry = _audit(request)
        if entry is not None:
            entry.client_key_id = key_id
        return key_id

    router = APIRouter()
    guarded = [Depends(require_key)]

    async def analyse(
        request: Request, file: UploadFile, threshold: float | None, annotate: bool
    ) -> Analysis:
        arrived = time.perf_counter()
        data = await file.read()
        entry = _audit(request)
        if entry is not None:
            entry.image_sha256 = hashlib.sha256(data).hexdigest() if data else None
            entry.image_bytes = len(data)
            entry.image_data = data if settings.audit_store_pixels and data else None
        try:
            min_confidence = service.min_confidence_for(threshold)
            job = service.analyse_job(data, file.filename, min_confidence, annotate)
            analyser = service.analyser
        except NotReady as exc:
            service.metrics.rejections.labels("not_ready").inc()
            raise ApiError(503, "not_ready", f"the model is not ready yet ({exc})", retry) from exc
        if entry is not None:
            entry.model_sha256 = analyser.detector.sha256
            entry.threshold = analyser.threshold(min_confidence)
        service.metrics.queue_depth.set(service.gate.waiting)
        try:
            analysis, waited = await service.gate.run(job)
        except Overloaded as exc:
            service.metrics.rejections.labels("queue_full").inc()
            raise ApiError(503, "queue_full", f"the service is busy: {exc}; retry later", retry) from exc
        except TimedOut as exc:
            service.metrics.rejections.labels("timeout").inc()
            raise ApiError(503, "timeout", f"{exc} (BONEFRAC_REQUEST_TIMEOUT_S); retry later", retry) from exc
        except ImageError as exc:
            service.metrics.rejections.labels("invalid_image").inc()
            raise ApiError(422, "invalid_image", str(exc)) from exc
        finally:
            service.metrics.queue_depth.set(service.gate.waiting)
        service.metrics.inference_latency.observe(analysis.seconds)
        request.state.timings = Timings(
            queue_ms=round(waited * 1000, 2),
            inference_ms=round(analysis.seconds * 1000, 2),
            total_ms=round((time.perf_counter() - arrived) * 1000, 2),
        )
        result = analysis.result
        if entry is not None:
            entry.image_width = result.image.width
            entry.image_height = result.image.height
            entry.image_call = result.image.call
            entry.fracture_probability = result.image.fracture_probability
            entry.image_score = result.image.score
            entry.detections = [d.model_dump(mode="json") for d in result.detections]
        return analysis

    @router.post(
        "/v1/detect", response_model=DetectResponse, responses=ERRORS, dependencies=guarded, tags=["detect"]
    )
    async def detect(request: Request, file: ImageField, threshold: ThresholdField = None) -> DetectResponse:
        """Find fractures on one radiograph: the image's call, score and fracture probability, and boxes in
        pixels (and mm when the image gives pixel spacing), each with its operating-point tier."""
        analysis = await analyse(request, file, threshold, annotate=False)
        return analysis.result.model_copy(
            update={"request_id": request.state.request_id, "timings": request.state.timings}
        )

    @router.post(
        "/v1/detect/annotated",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}, "description": "The image with boxes"}, **ERRORS},
        dependencies=guarded,
        tags=["detect"],
    )
    async def detect_annotated(
        request: Request, file: ImageField, threshold: ThresholdField = None
    ) -> Response:
        """The radiograph as PNG with the fracture boxes and confidences drawn on it: high-specificity boxes
        solid, high-sensitivity boxes dashed."""
        analysis = await analyse(request, file, threshold, annotate=True)
        result = analysis.result
        return Response(
            analysis.annotated_png or b"",
            media_type="image/png",
            headers={
                "X-Detections": str(len(result.detections)),
                "X-Threshold": f"{result.threshold:g}",
                "X-Call": result.image.call,
                "X-Model-SHA256": result.model.sha256,
            },
        )

    @router.get(
        "/v1/model", response_model=ModelCardResponse, responses=ERRORS, dependencies=guarded, tags=["model"]
    )
    async def model_card() -> ModelCardResponse:
        """The served model's card (classes, input size, operating points, metrics, stand-in flag), its
        classifier and the two operating points the answers use."""
        try:
            analyser = service.analyser
        except NotReady as exc:
            raise ApiError(503, "not_ready", f"the model is not ready yet ({exc})", retry) from exc
        return ModelCardResponse(
            sha256=analyser.detector.sha256,
            card=analyser.card.model_dump(mode="json"),
            classifier=model_info(analyser).classifier,
            operating_points=operating_points_info(analyser),
        )

    @router.get(
        "/v1/model/card",
        response_class=Response,
        responses={200: {"content": {"text/markdown": {}}, "description": "MODEL_CARD.md"}, **ERRORS},
        dependencies=guarded,
        tags=["model"],
    )
    async def model_card_markdown() -> Response:
        """The served model's readable card (MODEL_CARD.md beside the weights), as Markdown."""
        path = markdown_path_for(settings.model_path)
        if not path.is_file():
            raise ApiError(404, "no_model_card", f"no {MARKDOWN_FILENAME} beside the served model")
        return Response(path.read_text(encoding="utf-8"), media_type="text/markdown; charset=utf-8")

    @router.get("/healthz", response_model=HealthResponse, tags=["ops"])
    async def healthz() -> HealthResponse:
        """The process is alive (it may still be loading the model)."""
        return HealthResponse(status="alive")

    @router.get(
        "/readyz", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}}, tags=["ops"]
    )
    async def readyz() -> JSONResponse:
        """Ready when the model is loaded and a warm-up inference has run."""
        if service.ready:
            body = ReadyResponse(ready=True, status="ready")
            return JSONResponse(body.model_dump(), status_code=200)
        status = "failed" if service.load_error else "loading"
        body = ReadyResponse(ready=False, status=status, detail=service.load_error)
        return JSONResponse(body.model_dump(), status_code=503, headers=retry)

    @router.get(
        "/metrics", response_class=Response, tags=["ops"], responses={200: {"content": {"text/plain": {}}}}
    )
    async def metrics() -> Response:
        """Prometheus metrics: requests, latency histogram, in flight, queue depth, rejections, readiness."""
        from prometheus_client import CONTENT_TYPE_LATEST

        service.metrics.inferences_running.set(service.gate.running)
        service.metrics.queue_depth.set(service.gate.waiting)
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
