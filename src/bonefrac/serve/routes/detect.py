"""POST /v1/detect and /v1/detect/annotated: one radiograph in, the analysis out (JSON or a PNG)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.types import Receive

from bonefrac.serve.deps import AuditDep, ServiceDep, UploadDep
from bonefrac.serve.routes.common import ERRORS, UPLOAD_BODY
from bonefrac.serve.schemas import DetectResponse, Timings
from bonefrac.serve.service import Analysis
from bonefrac.serve.upload import ClientGone

T = TypeVar("T")
router = APIRouter(prefix="/v1", tags=["detect"])


async def _disconnected(receive: Receive) -> None:
    """Returns when the client closes the connection (the body has been read, so nothing else arrives)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def while_connected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, dropping it (ClientGone) as soon as the client goes away: queued work of clients that
    are gone never runs."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(request.receive))
    try:
        done, _ = await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        gone.cancel()
    if task in done:
        return task.result()
    task.cancel()
    raise ClientGone("the client closed the connection before its answer was ready")


async def _analyse(
    request: Request, service: ServiceDep, upload: UploadDep, entry: AuditDep, annotate: bool
) -> tuple[Analysis, Timings]:
    arrived = time.perf_counter()
    analysis = await while_connected(request, service.analyse(upload, annotate=annotate))
    if entry is not None:
        entry.record_result(analysis.result)
    timings = Timings(
        queue_ms=round(analysis.queue_s * 1000, 2),
        inference_ms=round(analysis.inference_s * 1000, 2),
        total_ms=round((time.perf_counter() - arrived) * 1000, 2),
    )
    return analysis, timings


@router.post("/detect", response_model=DetectResponse, responses=ERRORS, openapi_extra=UPLOAD_BODY)
async def detect(request: Request, service: ServiceDep, upload: UploadDep, entry: AuditDep) -> DetectResponse:
    """Find fractures on one radiograph: the image's call, score and fracture probability, and boxes in
    pixels (and mm when the image gives pixel spacing), each with its operating-point tier."""
    analysis, timings = await _analyse(request, service, upload, entry, annotate=False)
    return analysis.result.model_copy(update={"request_id": request.state.request_id, "timings": timings})


@router.post(
    "/detect/annotated",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The image with boxes"}, **ERRORS},
    openapi_extra=UPLOAD_BODY,
)
async def detect_annotated(
    request: Request, service: ServiceDep, upload: UploadDep, entry: AuditDep
) -> Response:
    """The radiograph as PNG with the fracture boxes and confidences drawn on it: high-specificity boxes
    solid, high-sensitivity boxes dashed."""
    analysis, _timings = await _analyse(request, service, upload, entry, annotate=True)
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
