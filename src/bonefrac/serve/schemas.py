"""Request and response bodies of the HTTP API (separate from the library records).

The detect answer is the public per-image schema itself (`bonefrac.infer.result_schema.ImageResult`, shared
with `bonefrac predict` and the UI's download), with its `request_id` and `timings` filled in.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bonefrac.infer.result_schema import ClassifierInfo, ImageResult, OperatingPointsInfo, Timings


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. invalid_image, upload_too_large.")
    message: str = Field(description="What was wrong and what is accepted.")


class ErrorBody(BaseModel):
    error: ErrorDetail
    request_id: str


DetectResponse = ImageResult  # the public schema; the service fills in request_id and timings
__all__ = ["DetectResponse", "ErrorBody", "ErrorDetail", "HealthResponse", "ModelCardResponse", "Timings"]


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
