"""Probes for orchestrators and monitoring: /healthz, /readyz, /metrics (never need a key)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from bonefrac.serve.deps import ServiceDep
from bonefrac.serve.schemas import HealthResponse, ReadyResponse

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """The process is alive (it may still be loading the model)."""
    return HealthResponse(status="alive")


@router.head("/healthz", include_in_schema=False)
async def healthz_head() -> Response:
    """HEAD /healthz: the same answer without a body (load balancers probe with HEAD)."""
    return Response(status_code=200, media_type="application/json")


@router.get("/readyz", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
async def readyz(service: ServiceDep) -> JSONResponse:
    """Ready when the model is loaded and a warm-up inference has run."""
    if service.ready:
        return JSONResponse(ReadyResponse(ready=True, status="ready").model_dump(), status_code=200)
    status = "failed" if service.load_error else "loading"
    body = ReadyResponse(ready=False, status=status, detail=service.load_error)
    retry = {"Retry-After": str(service.settings.retry_after_s)}
    return JSONResponse(body.model_dump(), status_code=503, headers=retry)


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(service: ServiceDep) -> Response:
    """Prometheus metrics: requests, latency histogram, in flight, queue depth, rejections, readiness."""
    from prometheus_client import CONTENT_TYPE_LATEST

    service.metrics.inferences_running.set(service.gate.running)
    service.metrics.queue_depth.set(service.gate.waiting)
    return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)
