"""Request and response bodies of the HTTP API (separate from the library records)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. invalid_image, upload_too_large.")
    message: str = Field(description="What was wrong and what is accepted.")


class ErrorBody(BaseModel):
    error: ErrorDetail
    request_id: str


class DetectionOut(BaseModel):
    class_id: int
    class_name: str
    confidence: float
    xyxy: list[float] = Field(description="Box corners x1, y1, x2, y2 in original image pixels.")
    width_px: float
    height_px: float
    width_mm: float | None = Field(None, description="Box width in mm when the image carries pixel spacing.")
    height_mm: float | None = Field(
        None, description="Box height in mm when the image carries pixel spacing."
    )


class ImageInfo(BaseModel):
    width: int
    height: int
    format: str = Field(
        description="Format found from the content (not the file name): png, jpeg, dicom, ..."
    )
    bytes: int
    sha256: str
    pixel_spacing_mm: list[float] | None = Field(None, description="Row and column spacing in mm, if known.")


class ModelInfo(BaseModel):
    name: str
    version: str
    sha256: str
    stand_in: bool = Field(
        description="True for a stand-in model trained on synthetic data: not for real use."
    )


class Timings(BaseModel):
    queue_ms: float = Field(description="Waiting for a free inference slot.")
    inference_ms: float = Field(description="Decoding the image and running the model.")
    total_ms: float = Field(description="From request arrival to the answer.")


class DetectResponse(BaseModel):
    request_id: str
    model: ModelInfo
    image: ImageInfo
    threshold: float
    detections: list[DetectionOut]
    timings: Timings


class ModelCardResponse(BaseModel):
    sha256: str
    card: dict[str, Any] = Field(description="The model card (model_card.json) of the served model.")


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    ready: bool
    status: str
    detail: str | None = None
