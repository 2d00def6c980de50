"""Request and response bodies of the HTTP API (separate from the library records).

The detect answer is the public per-image schema (`bonefrac.infer.result_schema.ImageResult`, shared with
`bonefrac predict` and the UI's download) plus the request id and timings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bonefrac.infer.result_schema import ClassifierInfo, ImageResult, OperatingPointsInfo


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. invalid_image, upload_too_large.")
    message: str = Field(description="What was wrong and what is accepted.")


class ErrorBody(BaseModel):
    error: ErrorDetail
    request_id: str


class Timings(BaseModel):
    queue_ms: float = Field(description="Waiting for a free inference slot.")
    inference_ms: float = Field(description="Decoding the image and running the model(s).")
    total_ms: float = Field(description="From request arrival to the answer.")


class DetectResponse(ImageResult):
    request_id: str
    timings: Timings


class ModelCardResponse(BaseModel):
    sha256: str
    card: dict[str, Any] = Field(description="The model card (model_card.json) of the served model.")
    classifier: ClassifierInfo | None = Field(
        description="The image-level classifier the card names; null when the model has none."
    )
    operating_points: OperatingPointsInfo = Field(
        description="Both operating points the answers use (a card without two gives its single one twice)."
    )


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    ready: bool
    status: str
    detail: str | None = None
