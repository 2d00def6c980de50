"""What several routers share: the documented error answers and the multipart body of the detect routes."""

from __future__ import annotations

from typing import Any

from bonefrac.serve.schemas import ErrorBody

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "API key missing or wrong (only when keys are configured)"},
    408: {"model": ErrorBody, "description": "The upload did not arrive within BONEFRAC_BODY_TIMEOUT_S"},
    413: {"model": ErrorBody, "description": "Upload larger than BONEFRAC_MAX_UPLOAD_BYTES"},
    422: {
        "model": ErrorBody,
        "description": "Not a usable image, or a bad or doubled field, or broken multipart",
    },
    431: {"model": ErrorBody, "description": "Request headers over BONEFRAC_MAX_HEADER_BYTES/COUNT"},
    503: {
        "model": ErrorBody,
        "description": "Not ready, queue full, timed out or the audit log unavailable; see Retry-After",
    },
}

# The body is read by bonefrac.serve.upload (streamed, capped, never spooled to disk), so it is declared
# here for the OpenAPI schema rather than as FastAPI form parameters.
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The radiograph: JPEG, PNG, TIFF, BMP, WebP or DICOM (one part).",
                        },
                        "threshold": {
                            "type": "number",
                            "minimum": 0.0,
                            "maximum": 1.0,
                            "description": "Lowest box confidence 0..1: replaces the high-sensitivity box "
                            "threshold and shows boxes on images of any call (boxes below the "
                            "high-specificity one are dashed); default: the model's operating points.",
                        },
                    },
                }
            }
        },
    }
}
