"""The service's long-lived parts in one place: settings, engine, gate, audit log, metrics, readiness."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bonefrac.errors import ConfigError, ImageError
from bonefrac.records import Detections, Radiograph
from bonefrac.serve.audit import AuditLog
from bonefrac.serve.engine import InferenceEngine, load_engine, warm_up
from bonefrac.serve.limits import InferenceGate
from bonefrac.serve.metrics import ServiceMetrics
from bonefrac.serve.security import ApiKeyChecker
from bonefrac.serve.settings import ServeSettings

logger = logging.getLogger("bonefrac.serve")


@dataclass(frozen=True)
class Analysis:
    """What one uploaded image gave: the decoded radiograph's facts, the boxes, optionally a PNG."""

    radiograph: Radiograph
    detections: Detections
    sha256: str
    size_bytes: int
    seconds: float
    annotated_png: bytes | None = None


class NotReady(Exception):
    """The model is still loading or failed to load."""


class Service:
    """Created by create_app; `start()` loads and warms the model in a background thread."""

    def __init__(self, settings: ServeSettings, engine: InferenceEngine | None = None) -> None:
        self.settings = settings
        self.keys = ApiKeyChecker(settings)  # refuses production without keys before anything else
        self.metrics = ServiceMetrics()
        self.audit = AuditLog(settings.audit_db_url, store_pixels=settings.audit_store_pixels)
        self.gate = InferenceGate(
            settings.max_concurrent,
            settings.queue_length,
            settings.worker_threads,
            settings.request_timeout_s,
        )
        self._engine = engine
        self._ready = threading.Event()
        self.load_error: str | None = None
        self.started_at = time.monotonic()
        self.ready_after_s: float | None = None
        self._loader: threading.Thread | None = None
        if engine is None and not Path(settings.model_path).is_file():
            raise ConfigError(
                f"model file not found: {settings.model_path} (set BONEFRAC_MODEL_PATH or --model)"
            )

    # lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        self.started_at = time.monotonic()
        self._loader = threading.Thread(target=self._load, name="model-loader", daemon=True)
        self._loader.start()

    def _load(self) -> None:
        try:
            engine = self._engine or load_engine(self.settings.model_path, self.settings.inference_threads)
            warm_up(engine)
        except Exception as exc:  # the service stays up and says why it is not ready
            self.load_error = f"{type(exc).__name__}: {exc}"
            logger.exception("model could not be loaded", extra={"model_path": str(self.settings.model_path)})
            return
        self._engine = engine
        self.ready_after_s = round(time.monotonic() - self.started_at, 3)
        self.metrics.ready.set(1)
        self._ready.set()
        logger.info(
            "model ready",
            extra={
                "model_path": str(self.settings.model_path),
                "model_sha256": engine.sha256,
                "ready_after_s": self.ready_after_s,
                "stand_in": engine.card.stand_in,
            },
        )

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def stop(self) -> None:
        """Finish running inferences, flush the audit log."""
        self.gate.shutdown()
        self.audit.close()
        logger.info("service stopped")

    # state -------------------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def engine(self) -> InferenceEngine:
        if not self._ready.is_set() or self._engine is None:
            raise NotReady(self.load_error or "the model is still loading")
        return self._engine

    def threshold_for(self, requested: float | None) -> float:
        if requested is not None:
            return requested
        if self.settings.threshold is not None:
            return self.settings.threshold
        return float(self.engine.card.operating_point.threshold)

    # work (runs in a worker thread) ------------------------------------------------------------------------
    def analyse_job(
        self, data: bytes, filename: str | None, threshold: float, annotate: bool
    ) -> Callable[[], Analysis]:
        engine = self.engine
        max_pixels = self.settings.max_image_pixels

        def job() -> Analysis:
            from bonefrac.imaging.io import load_image

            started = time.perf_counter()
            if not data:
                raise ImageError(
                    "the uploaded file is empty; send a JPEG, PNG, TIFF, BMP, WebP or DICOM image"
                )
            radiograph = load_image(data, max_pixels=max_pixels, name=filename or "upload")
            detections = engine.predict(radiograph, conf=threshold).above(threshold)
            png = None
            if annotate:
                from bonefrac.imaging.render import draw_detections, encode_png

                png = encode_png(draw_detections(radiograph, detections, threshold=threshold))
            return Analysis(
                radiograph=radiograph,
                detections=detections,
                sha256=hashlib.sha256(data).hexdigest(),
                size_bytes=len(data),
                seconds=time.perf_counter() - started,
                annotated_png=png,
            )

        return job
