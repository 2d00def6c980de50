"""Service settings, read from BONEFRAC_* environment variables (pydantic-settings), documented defaults."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bonefrac.config import explain_validation_error
from bonefrac.errors import ConfigError
from bonefrac.imaging.limits import DEFAULT_MAX_PIXELS
from bonefrac.paths import default_audit_db_url, default_model_path

DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# 25 MP: above the largest radiography detectors (43 x 43 cm at 100 um is 18.5 MP) and full-field mammograms;
# half the library's DEFAULT_MAX_PIXELS, so an upload that claims more is refused before it is queued.
DEFAULT_MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS // 2
DEFAULT_LARGE_IMAGE_PIXELS = 8_000_000  # beyond FracAtlas's largest (6.6 MP): the large-image lane


SECRET_FIELDS = frozenset({"api_keys"})  # never repeated in an error message


def _split_list(value: object) -> object:
    """Accept "a,b" or "a, b" from the environment as well as a real list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ServeSettings(BaseSettings):
    """Everything the service reads at start; each field is `BONEFRAC_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="BONEFRAC_", extra="forbid", frozen=True)

    model_path: Path = Field(
        default_factory=default_model_path,
        description="The ONNX model to serve (model_card.json beside it); default: the shipped model.",
    )
    env: Literal["development", "production"] = Field(
        "development", description="production requires API keys and refuses to start without them."
    )
    threshold: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Default confidence threshold; unset: the model card's operating point.",
    )
    max_upload_bytes: int = Field(
        DEFAULT_MAX_UPLOAD_BYTES, gt=0, description="Largest accepted request body."
    )
    max_image_pixels: int = Field(
        DEFAULT_MAX_IMAGE_PIXELS,
        gt=0,
        description="Largest decoded image (width x height); bombs are refused.",
    )
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description='Comma-separated keys, each "key" or "id:key"; the id (or a hash prefix) is audited.',
    )
    api_key_header: str = Field("X-API-Key", description="Header that carries the API key.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS; empty: CORS off."
    )
    worker_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Kept for older configurations, not used: the gate runs one thread per "
        "BONEFRAC_MAX_CONCURRENT slot plus one for large images.",
    )
    inference_threads: int = Field(1, ge=1, le=64, description="onnxruntime intra-op threads per inference.")
    engine: Literal["onnxruntime", "openvino", "openvino-bf16"] = Field(
        "onnxruntime",
        description="What runs the ONNX models: onnxruntime, openvino (float32) or openvino-bf16 (bfloat16 "
        "where the CPU has it); both OpenVINO ones need the openvino extra.",
    )
    prefer_int8: bool = Field(
        False,
        description="Serve the int8 copy of the detector (model.int8.onnx beside the model) when the model "
        "card ships it (it kept its accuracy); otherwise the model itself.",
    )
    max_concurrent: int = Field(2, ge=1, le=256, description="Inferences running at once.")
    queue_length: int = Field(16, ge=0, le=10_000, description="Requests waiting for a slot; beyond: 503.")
    request_timeout_s: float = Field(
        30.0, gt=0, description="Longest a request may wait and run; beyond: 503."
    )
    retry_after_s: int = Field(1, ge=1, description="Retry-After seconds sent with 503 answers.")
    audit_db_url: str = Field(
        default_factory=default_audit_db_url,
        description="SQLAlchemy URL of the audit log; default: audit.db in the data folder ($BONEFRAC_DATA).",
    )
    audit_store_pixels: bool = Field(
        False, description="Store the uploaded bytes in the audit log (off: never)."
    )
    shutdown_grace_s: float = Field(30.0, ge=0, description="How long shutdown waits for in-flight requests.")
    log_json: bool = Field(True, description="One JSON object per log line (off: plain text).")
    max_header_bytes: int = Field(
        16_384, ge=1024, description="Largest request head (request line and headers); beyond: refused."
    )
    max_header_count: int = Field(100, ge=10, description="Most request headers; beyond: 431.")
    header_timeout_s: float = Field(
        10.0, gt=0, description="Longest a client may take to send its request head; beyond: closed."
    )
    body_timeout_s: float = Field(
        60.0, gt=0, description="Longest a client may take to send its whole upload; beyond: 408."
    )
    body_budget_bytes: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="Upload bytes held in memory at once, all requests together; more wait their turn.",
    )
    large_image_pixels: int = Field(
        DEFAULT_LARGE_IMAGE_PIXELS,
        gt=0,
        description="Images above this many pixels are analysed one at a time at low CPU priority.",
    )
    large_queue_length: int = Field(
        4, ge=0, le=1000, description="Large images that may wait for the large-image lane; beyond: 503."
    )
    refusal_delay_s: float = Field(
        1.0,
        ge=0,
        description="Unusable images and busy refusals are answered after this delay (no CPU spent on "
        "it), so a client repeating cheap-to-send, expensive uploads cannot crowd out the others.",
    )
    audit_timeout_s: float = Field(
        2.0, gt=0, description="Longest an audit row may take to write; beyond: the request answers 503."
    )

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_list(value)

    @field_validator("api_keys")
    @classmethod
    def _keys_not_blank(cls, keys: list[str]) -> list[str]:
        for key in keys:
            secret = key.split(":", 1)[1] if ":" in key else key
            if len(secret) < 8:
                raise ValueError("each API key must be at least 8 characters (format: key or id:key)")
        return keys

    def key_ids(self) -> dict[str, str]:
        """Map secret -> key id (the part before ':' or the first 8 hex digits of the key's sha256)."""
        result: dict[str, str] = {}
        for entry in self.api_keys:
            if ":" in entry:
                key_id, secret = entry.split(":", 1)
            else:
                key_id, secret = "key-" + hashlib.sha256(entry.encode()).hexdigest()[:8], entry
            result[secret] = key_id
        return result


def load_settings(**overrides: Any) -> ServeSettings:
    """Settings from the environment with explicit overrides on top; ConfigError names what is wrong."""
    try:
        return ServeSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        message = explain_validation_error(ServeSettings, exc, "BONEFRAC_* settings", SECRET_FIELDS)
        raise ConfigError(message) from exc
