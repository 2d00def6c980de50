"""The service's long-lived parts in one place: settings, analyser, gate, audit log, metrics, readiness."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bonefrac.errors import ConfigError, ImageError
from bonefrac.infer.analysis import Classifier, Detector, FractureAnalyser
from bonefrac.infer.result_schema import ImageResult, image_result
from bonefrac.serve.audit import AuditLog
from bonefrac.serve.engine import load_analyser, warm_up
from bonefrac.serve.limits import InferenceGate
from bonefrac.serve.metrics import ServiceMetrics
from bonefrac.serve.security import ApiKeyChecker
from bonefrac.serve.settings import ServeSettings

logger = logging.getLogger("bonefrac.serve")


@dataclass(frozen=True)
class Analysis:
    """What one uploaded image gave: the public result (boxes, call, probability), optionally a PNG."""

    result: ImageResult
    seconds: float
    annotated_png: bytes | None = None


class NotReady(Exception):
    """The model is still loading or failed to load."""


class Service:
    """Created by create_app; `start()` loads and warms the model in a background thread."""

    def __init__(
        self,
        settings: ServeSettings,
        engine: Detector | None = None,
        classifier: Classifier | None = None,
    ) -> None:
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
        self._classifier = classifier
        self._analyser: FractureAnalyser | None = None
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
            analyser = load_analyser(
                self.settings.model_path,
                self.settings.inference_threads,
                self._engine,
                self._classifier,
                engine=self.settings.engine,
            )
            warm_up(analyser)
        except Exception as exc:  # the service stays up and says why it is not ready
            self.load_error = f"{type(exc).__name__}: {exc}"
            logger.exception("model could not be loaded", extra={"model_path": str(self.settings.model_path)})
            return
        self._analyser = analyser
        self.ready_after_s = round(time.monotonic() - self.started_at, 3)
        self.metrics.ready.set(1)
        self._ready.set()
        logger.info(
            "model ready",
            extra={
                "model_path": str(self.settings.model_path),
                "model_sha256": analyser.detector.sha256,
                "classifier_sha256": analyser.classifier.sha256 if analyser.classifier else None,
                "engine": self.settings.engine,
                "tiered": analyser.tiered,
                "ready_after_s": self.ready_after_s,
                "stand_in": analyser.card.stand_in,
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
    def analyser(self) -> FractureAnalyser:
        if not self._ready.is_set() or self._analyser is None:
            raise NotReady(self.load_error or "the model is still loading")
        return self._analyser

    def min_confidence_for(self, requested: float | None) -> float | None:
        """The request's threshold, else BONEFRAC_THRESHOLD, else None (the card's operating points)."""
        return requested if requested is not None else self.settings.threshold

    # work (runs in a worker thread) ------------------------------------------------------------------------
    def analyse_job(
        self, data: bytes, filename: str | None, min_confidence: float | None, annotate: bool
    ) -> Callable[[], Analysis]:
        analyser = self.analyser
        max_pixels = self.settings.max_image_pixels

        def job() -> Analysis:
            from bonefrac.imaging.io import load_image

            started = time.perf_counter()
            if not data:
                raise ImageError(
                    "the uploaded file is empty; send a JPEG, PNG, TIFF, BMP, WebP or DICOM image"
                )
            radiograph = load_image(data, max_pixels=max_pixels, name=filename or "upload")
            finding = analyser.analyse(radiograph, min_confidence=min_confidence)
            png = None
            if annotate:
                from bonefrac.imaging.render import draw_detections, encode_png
                from bonefrac.infer.tiers import box_styles

                png = encode_png(
                    draw_detections(radiograph, finding.detections, styles=box_styles(finding.box_tiers))
                )
            result = image_result(
                analyser,
                finding,
                radiograph,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                file_name=filename,
            )
            return Analysis(result=result, seconds=time.perf_counter() - started, annotated_png=png)

        return job
