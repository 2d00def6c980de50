"""POST /v1/detect and /v1/detect/annotated: one radiograph in, the analysis out (JSON or a PNG)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.types import Receive

from bonefrac.serve.deps import AuditDep, ServiceDep, UploadDep
from bonefrac.serve.routes.common import ERRORS, UPLOAD_BODY
from bonefrac.serve.schemas import DetectResponse, ErrorBody, Timings
from bonefrac.serve.service import Analysis, DicomAsk
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
    request: Request,
    service: ServiceDep,
    upload: UploadDep,
    entry: AuditDep,
    annotate: bool,
    dicom: DicomAsk | None = None,
) -> tuple[Analysis, Timings]:
    arrived = time.perf_counter()
    analysis = await while_connected(request, service.analyse(upload, annotate=annotate, dicom=dicom))
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


DICOM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/dicom": {}, "multipart/related": {}},
        "description": "The structured report (application/dicom), or with capture=true the report and the "
        'annotated secondary capture as multipart/related; type="application/dicom"',
    },
    501: {"model": ErrorBody, "description": "This install cannot write DICOM results (no highdicom)"},
    **ERRORS,
}


def multipart_related(parts: tuple[bytes, ...]) -> tuple[bytes, str]:
    """`parts` as a multipart/related body of application/dicom parts (DICOM PS3.18), and its content type."""
    boundary = uuid.uuid4().hex
    body = b"".join(
        b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + part + b"\r\n"
        for part in parts
    )
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


@router.post("/detect/dicom", response_class=Response, responses=DICOM_RESPONSES, openapi_extra=UPLOAD_BODY)
async def detect_dicom(
    request: Request,
    service: ServiceDep,
    upload: UploadDep,
    entry: AuditDep,
    capture: Annotated[bool, Query(description="Also the annotated secondary capture")] = False,
) -> Response:
    """Findings on one DICOM radiograph as DICOM results to file into its study: a TID 1500 structured
    report (each box a region on the source image, its confidence and tier; the image's call), and with
    capture=true an annotated secondary capture with RESEARCH USE ONLY burned in."""
    analysis, _timings = await _analyse(
        request, service, upload, entry, annotate=False, dicom=DicomAsk(capture)
    )
    result = analysis.result
    headers = {"X-Detections": str(len(result.detections)), "X-Call": result.image.call}
    if len(analysis.dicom) == 1:
        return Response(analysis.dicom[0], media_type="application/dicom", headers=headers)
    body, content_type = multipart_related(analysis.dicom)
    return Response(body, media_type=content_type, headers=headers)
