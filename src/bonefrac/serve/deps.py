"""The routes' dependencies, in the order a request meets them: the service, the API key (from the headers,
before any body byte is read), admission to the concurrency gate (still before the body), then the upload
itself, read within the memory budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from bonefrac.serve.audit import AuditEntry
from bonefrac.serve.gate import Admission
from bonefrac.serve.service import Service
from bonefrac.serve.upload import Upload, UploadTooLarge, receive_upload


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def audit_entry(request: Request) -> AuditEntry | None:
    """The request's audit entry (routes under /v1/), filled as the request goes."""
    return getattr(request.state, "audit", None)


AuditDep = Annotated[AuditEntry | None, Depends(audit_entry)]


def authenticate(request: Request, service: ServiceDep, entry: AuditDep) -> str | None:
    """The client's key id; NotAuthenticated (401) when keys are configured and none valid was sent."""
    key_id = service.keys.authenticate(request.headers.get(service.keys.header))
    if entry is not None:
        entry.client_key_id = key_id
    return key_id


ClientKey = Annotated[str | None, Depends(authenticate)]


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def admit(request: Request, service: ServiceDep, _key: ClientKey) -> AsyncIterator[Admission]:
    """A place in the gate, taken before the body is read (UploadTooLarge from Content-Length, Overloaded
    when every place is taken); given back when the request ends."""
    declared = _declared_length(request)
    limit = service.settings.max_upload_bytes
    if declared is not None and declared > limit:
        raise UploadTooLarge(limit)
    admission = service.gate.admit()
    try:
        yield admission
    finally:
        admission.close()


# given back when the endpoint returns or raises, before an error answer's refusal delay
AdmissionDep = Annotated[Admission, Depends(admit, scope="function")]


async def read_upload(request: Request, service: ServiceDep, admission: AdmissionDep) -> Upload:
    """The multipart upload, read once its bytes fit the memory budget (InvalidUpload, UploadTooLarge,
    BodyTimeout, ClientGone)."""
    settings = service.settings
    declared = _declared_length(request)
    await admission.reserve_body(declared if declared is not None else settings.max_upload_bytes)
    upload = await receive_upload(
        request.receive,
        request.headers.get("content-type"),
        settings.max_upload_bytes,
        settings.body_timeout_s,
        on_file_head=service.screen,  # refused from the image header before the rest is read
    )
    entry = audit_entry(request)
    if entry is not None:
        entry.image_sha256 = upload.sha256 if upload.data else None
        entry.image_bytes = len(upload.data)
        entry.image_data = upload.data if settings.audit_store_pixels and upload.data else None
    return upload


UploadDep = Annotated[Upload, Depends(read_upload)]
