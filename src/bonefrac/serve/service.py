"""The service's long-lived parts in one place: settings, analyser, gate, audit log, metrics, readiness."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bonefrac.card.record import MARKDOWN_FILENAME, markdown_path_for
from bonefrac.errors import ConfigError, ImageError
from bonefrac.imaging.header import declared_pixels
from bonefrac.imaging.sniff import sniff_format
from bonefrac.infer.analysis import Classifier, Detector, FractureAnalyser
from bonefrac.infer.int8_choice import detector_file
from bonefrac.infer.result_schema import ImageResult, image_result
from bonefrac.serve.audit import AuditLog
from bonefrac.serve.engine import load_analyser, warm_up
from bonefrac.serve.gate import ConcurrencyGate, Overloaded
from bonefrac.serve.metrics import ServiceMetrics
from bonefrac.serve.security import ApiKeyChecker
from bonefrac.serve.settings import ServeSettings
from bonefrac.serve.upload import Upload

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger("bonefrac.serve")


@dataclass(frozen=True)
class Analysis:
    """Everything a route needs about one analysed upload: the public result (boxes, call, probability, the
    upload's sha256), how long it waited and ran, and the annotated PNG when asked for."""

    result: ImageResult
    queue_s: float
    inference_s: float
    annotated_png: bytes | None = None
    dicom: tuple[bytes, ...] = ()  # DICOM results as Part 10 files: the report, then the capture when asked


class NotReady(Exception):
    """The model is still loading or failed to load."""


class NoModelCard(Exception):
    """The served model has no readable card (MODEL_CARD.md) beside it."""


class DicomUnavailable(Exception):
    """DICOM results were asked for, but this install lacks highdicom (the dicom extra)."""


@dataclass(frozen=True)
class DicomAsk:
    """DICOM results wanted for an upload: the structured report, and the annotated capture when `capture`."""

    capture: bool = False


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
        self.audit = AuditLog(
            settings.audit_db_url,
            store_pixels=settings.audit_store_pixels,
            timeout_s=settings.audit_timeout_s,
        )
        self.gate = ConcurrencyGate(
            settings.max_concurrent,
            settings.queue_length,
            settings.request_timeout_s,
            body_budget_bytes=settings.body_budget_bytes,
            large_queue_length=settings.large_queue_length,
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
            detector_path, why = detector_file(self.settings.model_path, self.settings.prefer_int8)
            logger.info("detector file chosen", extra={"model_path": str(detector_path), "reason": why})
            analyser = load_analyser(
                detector_path,
                self.settings.inference_threads,
                self._engine,
                self._classifier,
                engine=self.settings.engine,
                concurrency=self.settings.max_concurrent + 1,  # the slots and the large-image lane
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
        """Drop waiting requests, finish running inferences, flush the audit log."""
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

    # work --------------------------------------------------------------------------------------------------
    def screen(self, head: bytes) -> bool:
        """Judge an upload from its first bytes, before the rest is read or anything is decoded: ImageError
        when its header declares more than BONEFRAC_MAX_IMAGE_PIXELS, Overloaded when it is a large image and
        the large-image lane is full. Returns whether it is a large image."""
        pixels = declared_pixels(head)
        if pixels is not None and pixels > self.settings.max_image_pixels:
            raise ImageError(
                f"upload: the header declares {pixels:,} pixels, above the limit of "
                f"{self.settings.max_image_pixels:,} (BONEFRAC_MAX_IMAGE_PIXELS; refused before decoding)"
            )
        large = pixels is not None and pixels > self.settings.large_image_pixels
        if large and self.gate.large_lane_full:
            raise Overloaded(
                f"the large-image lane is full (images above BONEFRAC_LARGE_IMAGE_PIXELS="
                f"{self.settings.large_image_pixels:,} are analysed one at a time, "
                f"{self.settings.large_queue_length} may wait)"
            )
        return large

    def model_card_markdown(self) -> str:
        """MODEL_CARD.md beside the served model; NoModelCard when there is none."""
        path = markdown_path_for(self.settings.model_path)
        if not path.is_file():
            raise NoModelCard(
                f"no {MARKDOWN_FILENAME} beside the served model ({self.settings.model_path.name})"
            )
        return path.read_text(encoding="utf-8")

    async def analyse(
        self, upload: Upload, annotate: bool = False, dicom: DicomAsk | None = None
    ) -> Analysis:
        """Analyse one upload under the gate: refused from its header when it declares more than
        BONEFRAC_MAX_IMAGE_PIXELS, in the large-image lane above BONEFRAC_LARGE_IMAGE_PIXELS, refused when
        the decoder reports corrupt data. Raises NotReady, ImageError, Overloaded or TimedOut."""
        analyser = self.analyser
        data = upload.data
        if not data:
            raise ImageError(
                "upload: the file is empty (0 bytes); send a JPEG, PNG, TIFF, BMP, WebP or DICOM image"
            )
        if dicom is not None:
            _check_dicom_results_possible(data)
        large = self.screen(data)
        min_confidence = self.min_confidence_for(upload.threshold)
        job = self._job(analyser, upload, min_confidence, annotate, dicom)
        (result, png, files, seconds), waited = await self.gate.run(job, large=large)
        self.metrics.inference_latency.observe(seconds)
        return Analysis(result=result, queue_s=waited, inference_s=seconds, annotated_png=png, dicom=files)

    def _job(
        self,
        analyser: FractureAnalyser,
        upload: Upload,
        min_confidence: float | None,
        annotate: bool,
        dicom: DicomAsk | None,
    ) -> Callable[[], tuple[ImageResult, bytes | None, tuple[bytes, ...], float]]:
        max_pixels = self.settings.max_image_pixels

        def job() -> tuple[ImageResult, bytes | None, tuple[bytes, ...], float]:
            from bonefrac.imaging.io import load_image

            started = time.perf_counter()
            # the file's name is never used: it can carry patient data; a JPEG with corrupt data is refused
            radiograph = load_image(upload.data, max_pixels=max_pixels, name="upload", strict_jpeg=True)
            finding = analyser.analyse(radiograph, min_confidence=min_confidence)
            png, drawn = None, None
            if annotate or (dicom is not None and dicom.capture):
                from bonefrac.imaging.render import draw_detections, encode_png
                from bonefrac.infer.tiers import box_styles

                drawn = draw_detections(radiograph, finding.detections, styles=box_styles(finding.box_tiers))
                png = encode_png(drawn) if annotate else None
            result = image_result(
                analyser,
                finding,
                radiograph,
                size_bytes=len(upload.data),
                sha256=upload.sha256,
                file_name=upload.file_name,  # back to the client in the answer; never logged or stored
            )
            files = () if dicom is None else _dicom_files(upload.data, result, drawn)
            return result, png, files, time.perf_counter() - started

        return job


def _check_dicom_results_possible(data: bytes) -> None:
    """Before any queueing: the upload is DICOM and highdicom is installed, else the reason."""
    found = sniff_format(data[:256])
    if found != "dicom":
        raise ImageError(
            "upload: DICOM results need a DICOM image (one from a PACS or modality, with its study); this "
            f"is {found or 'not an image format bonefrac knows'}; POST it to /v1/detect for a JSON answer"
        )
    try:
        import highdicom  # noqa: F401
    except ImportError as exc:
        raise DicomUnavailable(
            "this service cannot write DICOM results: highdicom is not installed "
            "(pip install 'bonefrac[dicom]')"
        ) from exc


def _dicom_files(data: bytes, result: ImageResult, drawn: np.ndarray | None) -> tuple[bytes, ...]:
    """The upload's structured report (and capture of `drawn`) as Part 10 bytes, in new series of its
    study."""
    from bonefrac.dicom_out.series import ResultSeries
    from bonefrac.dicom_out.source import read_source
    from bonefrac.dicom_out.write import dicom_results, part10

    made = dicom_results(read_source(data, "upload"), result, drawn, ResultSeries())
    return tuple(part10(dataset) for dataset in (made.report, made.capture) if dataset is not None)
