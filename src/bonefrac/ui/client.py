"""How the UI gets its findings: over HTTP from the bonefrac service, or from the analyser in-process.

Both clients have the same interface (`DetectorClient`): `model_card()`, `analyze(data, name, threshold)`
and `where`. `analyze` returns an `Analysis`: the decoded radiograph (for display), the boxes with their
tiers, and the answer in the service's JSON shape (`POST /v1/detect`, the public per-image schema), built
the same way in-process, so the UI shows and downloads one thing. A threshold of None asks for the model's
own operating points; a number is the lowest box confidence, shown on images of any call.
Service failures become `ServiceError`s whose `plain` text says in plain words what happened and what to do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import numpy as np

from bonefrac.card.record import TIER_NAMES, ModelCard, markdown_path_for
from bonefrac.errors import BonefracError, ModelError
from bonefrac.records import Detections, Radiograph

if TYPE_CHECKING:  # the real import is lazy: the HTTP client needs no analyser
    from bonefrac.infer.result_schema import ImageResult

logger = logging.getLogger(__name__)

API_URL_ENV = "BONEFRAC_API_URL"
API_KEY_ENV = "BONEFRAC_API_KEY"
MODEL_PATH_ENV = "BONEFRAC_MODEL_PATH"
DEFAULT_API_KEY_HEADER = "X-API-Key"


class ServiceError(BonefracError):
    """The service could not be reached or refused a request; `plain` is the text to show a user."""

    def __init__(
        self, plain: str, *, status: int | None = None, code: str | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(plain)
        self.plain = plain
        self.status = status
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True)
class Analysis:
    """One image analysed at one threshold: what to draw, list and download."""

    name: str
    radiograph: Radiograph
    detections: Detections
    threshold: float  # the lowest confidence a box can have (the answer's `threshold`)
    response: dict[str, Any]  # the POST /v1/detect JSON (model, image with call, operating_points, ...)
    box_tiers: tuple[str, ...] = ()  # one per box: "high_specificity" (solid) or "high_sensitivity" (dashed)

    def __post_init__(self) -> None:
        if not self.box_tiers and len(self.detections):
            object.__setattr__(self, "box_tiers", ("high_specificity",) * len(self.detections))
        if len(self.box_tiers) != len(self.detections):
            raise ValueError(
                f"box_tiers must have one entry per box ({len(self.detections)}), got {len(self.box_tiers)}"
            )


class DetectorClient(Protocol):
    """What the Streamlit app needs from a detector, wherever it runs."""

    where: str  # "http://host:8000" or "in-process: /path/model.onnx", shown to the user

    def model_card(self) -> ModelCard: ...

    def model_card_markdown(self) -> str | None: ...

    def analyze(self, data: bytes, name: str, threshold: float | None) -> Analysis: ...


def decode_for_display(data: bytes, name: str) -> Radiograph:
    """The uploaded bytes as display-ready pixels (DICOM windowed), via bonefrac.imaging."""
    from bonefrac.imaging.io import load_image

    return load_image(data, name=name)


def detections_from_response(response: dict[str, Any], class_names: tuple[str, ...]) -> Detections:
    """The `detections` list of a /v1/detect answer as a Detections record; ServiceError if malformed."""
    items = response.get("detections")
    if not isinstance(items, list):
        raise ServiceError(
            "The service answered without a list of detections; is the URL a bonefrac service?"
        )
    try:
        xyxy = np.array([item["xyxy"] for item in items], dtype=np.float32).reshape(-1, 4)
        confidence = np.array([item["confidence"] for item in items], dtype=np.float32)
        class_id = np.array([item["class_id"] for item in items], dtype=np.int64)
        return Detections(xyxy, confidence, class_id, class_names if class_names else ())
    except (KeyError, TypeError, ValueError) as exc:
        raise ServiceError(
            f"The service's detections could not be read ({exc}); are UI and service versions the same?"
        ) from exc


def tiers_from_response(response: dict[str, Any]) -> tuple[str, ...]:
    """Each box's tier from a /v1/detect answer (an older service without tiers: every box solid)."""
    tiers = tuple(str(item.get("tier", "high_specificity")) for item in response.get("detections", []))
    unknown = sorted(set(tiers) - set(TIER_NAMES))
    if unknown:
        raise ServiceError(
            f"The service answered box tiers {unknown}; expected {list(TIER_NAMES)}. "
            "Are UI and service versions the same?"
        )
    return tiers


def response_for(result: ImageResult, inference_ms: float) -> dict[str, Any]:
    """The /v1/detect JSON for an in-process result (the service's own response model), so both clients
    show and download the same document."""
    from bonefrac.infer.result_schema import Timings

    elapsed = round(inference_ms, 2)
    timings = Timings(queue_ms=0.0, inference_ms=elapsed, total_ms=elapsed)
    answer = result.model_copy(update={"request_id": "in-process", "timings": timings})
    return answer.model_dump(mode="json")


class EngineClient:
    """The analyser (detector and the classifier its card names) in this process (no service needed)."""

    def __init__(self, model_path: Path | str, threads: int | None = None) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(
                f"model file not found: {path} (give --model, set {MODEL_PATH_ENV}, or use "
                f"--api-url / {API_URL_ENV} to talk to a running service)"
            )
        from bonefrac.infer.analysis import FractureAnalyser

        self._analyser = FractureAnalyser.from_model(path, threads=threads)
        self._markdown_path = markdown_path_for(path)
        self.where = f"in-process: {path}"

    def model_card(self) -> ModelCard:
        return self._analyser.card

    def model_card_markdown(self) -> str | None:
        """MODEL_CARD.md beside the model, or None when the model has none."""
        if not self._markdown_path.is_file():
            return None
        return self._markdown_path.read_text(encoding="utf-8")

    def analyze(self, data: bytes, name: str, threshold: float | None) -> Analysis:
        from bonefrac.infer.result_schema import image_result

        check_threshold(threshold)
        radiograph = decode_for_display(data, name)
        start = time.perf_counter()
        finding = self._analyser.analyse(radiograph, min_confidence=threshold)
        elapsed_ms = (time.perf_counter() - start) * 1000
        result = image_result(
            self._analyser,
            finding,
            radiograph,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            file_name=name,
        )
        return Analysis(
            name,
            radiograph,
            finding.detections,
            result.threshold,
            response_for(result, elapsed_ms),
            finding.box_tiers,
        )


def check_threshold(threshold: float | None) -> None:
    if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
        raise ServiceError(f"The threshold must be between 0 and 1; got {threshold}.")


def plain_words(status: int, body: Any, where: str, retry_after: str | None = None) -> str:
    """A refusal from the service, said so that someone who never read the API docs knows what to do."""
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message")) if isinstance(error, dict) and error.get("message") else ""
    detail = f": {message}" if message else ""
    if status in (401, 403):
        return (
            f"The service at {where} refused the request because it needs a valid API key{detail}. "
            f"Set {API_KEY_ENV} for the UI to one of the service's keys."
        )
    if status == 413:
        return f"The file is too large for the service{detail}."
    if status in (400, 415, 422):
        return f"The service could not use this file{detail}."
    if status == 429 or status == 503:
        wait = f" Try again in {retry_after} s." if retry_after else " Try again in a moment."
        return f"The service is busy or not ready yet{detail}.{wait}"
    if status == 504:
        return f"The service took too long to answer{detail}. Try a smaller image or try again."
    if status == 404:
        return f"The service at {where} has no such route (HTTP 404){detail}. Is the URL a bonefrac service?"
    if status >= 500:
        return f"The service failed on this request (HTTP {status}){detail}. Its logs say more."
    return f"The service answered HTTP {status}{detail}."


class HttpClient:
    """The bonefrac service over HTTP (`BONEFRAC_API_URL`); retries while the service is still starting."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        api_key_header: str = DEFAULT_API_KEY_HEADER,
        timeout_s: float = 60.0,
        http: httpx.Client | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ServiceError(f"The service URL must start with http:// or https://; got {base_url!r}.")
        self.where = base_url.rstrip("/")
        headers = {api_key_header: api_key} if api_key else {}
        self._http = http or httpx.Client(base_url=self.where, timeout=timeout_s)
        self._http.headers.update(headers)
        self._card: ModelCard | None = None
        self._markdown: str | None = None

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServiceError(
                f"The service at {self.where} did not answer in time ({type(exc).__name__}). "
                "It may be overloaded; try again."
            ) from exc
        except httpx.TransportError as exc:
            raise ServiceError(
                f"Cannot reach the service at {self.where} ({exc}). Is it running, and is "
                f"{API_URL_ENV} right?"
            ) from exc
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            request_id = body.get("request_id") if isinstance(body, dict) else None
            code = (
                body.get("error", {}).get("code")
                if isinstance(body, dict) and isinstance(body.get("error"), dict)
                else None
            )
            plain = plain_words(response.status_code, body, self.where, response.headers.get("Retry-After"))
            raise ServiceError(plain, status=response.status_code, code=code, request_id=request_id)
        return response

    def wait_until_ready(self, timeout_s: float = 60.0, interval_s: float = 0.5) -> None:
        """Poll GET /readyz until it answers 200 (compose may start the UI first); ServiceError on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._request("GET", "/readyz")
                return
            except ServiceError as exc:
                if time.monotonic() >= deadline:
                    raise ServiceError(
                        f"The service at {self.where} was not ready after {timeout_s:.0f} s. "
                        f"Last answer: {exc.plain}",
                        status=exc.status,
                        code=exc.code,
                    ) from exc
                logger.info("waiting for the service at %s: %s", self.where, exc.plain)
            time.sleep(interval_s)

    def model_card(self) -> ModelCard:
        """GET /v1/model, fetched once per client (a service serves one model for its lifetime)."""
        if self._card is None:
            body = self._request("GET", "/v1/model").json()
            data = body.get("card", body) if isinstance(body, dict) else body
            try:
                self._card = ModelCard.model_validate(data)
            except ValueError as exc:
                raise ServiceError(f"The service's model card could not be read ({exc}).") from exc
        return self._card

    def model_card_markdown(self) -> str | None:
        """GET /v1/model/card: the readable card, or None when the service has none (or is older)."""
        if self._markdown is None:
            try:
                self._markdown = self._request("GET", "/v1/model/card").text
            except ServiceError as exc:
                if exc.status != 404:
                    raise
                self._markdown = ""
        return self._markdown or None

    def analyze(self, data: bytes, name: str, threshold: float | None) -> Analysis:
        check_threshold(threshold)
        files = {"file": (name or "upload", data, "application/octet-stream")}
        fields = {} if threshold is None else {"threshold": str(threshold)}
        response = self._request("POST", "/v1/detect", files=files, data=fields)
        try:
            body = response.json()
        except ValueError as exc:
            raise ServiceError(
                "The service answered something that is not JSON; is the URL a bonefrac service?"
            ) from exc
        class_names = tuple(str(n) for n in self.model_card().class_names)
        detections = detections_from_response(body, class_names)
        tiers = tiers_from_response(body)
        radiograph = decode_for_display(data, name)
        used = body.get("threshold", threshold)
        return Analysis(name, radiograph, detections, float(used or 0.0), body, tiers)

    def close(self) -> None:
        self._http.close()


def make_client(
    api_url: str | None = None, model_path: str | Path | None = None, api_key: str | None = None
) -> DetectorClient:
    """HTTP when a URL is given (or BONEFRAC_API_URL is set), else the engine in-process on the model path."""
    url = api_url or os.environ.get(API_URL_ENV) or None
    if url:
        return HttpClient(url, api_key=api_key or os.environ.get(API_KEY_ENV) or None)
    path = model_path or os.environ.get(MODEL_PATH_ENV)
    if not path:
        raise ModelError(
            f"no service URL and no model: give --api-url (or set {API_URL_ENV}) to use a running "
            f"service, or --model (or set {MODEL_PATH_ENV}) to run an ONNX model in-process"
        )
    return EngineClient(path)


__all__ = [
    "Analysis",
    "DetectorClient",
    "EngineClient",
    "HttpClient",
    "ServiceError",
    "make_client",
    "plain_words",
]
