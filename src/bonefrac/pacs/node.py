"""`bonefrac dicom listen`: a DICOM node (pynetdicom C-STORE SCP) that analyses the radiographs a PACS sends
and C-STOREs the results (structured report, annotated capture) to a destination, usually that PACS.

Associations are refused for calling AE titles outside the allow-list; only radiograph storage classes (DX,
CR, and secondary captures of them) in transfer syntaxes this machine can decode are accepted, anything else
is refused in the association. Each accepted image is journalled on disk before "success" is answered
(`Inbox`), analysed by one worker thread in arrival order, and marked done or failed. Logs name UIDs and AE
titles only, never a patient.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bonefrac.dicom_out.write import StudySeries, analyse_dicom, write_dicom_results
from bonefrac.errors import BonefracError, ConfigError
from bonefrac.infer.analysis import FractureAnalyser
from bonefrac.pacs.inbox import Inbox, is_uid
from bonefrac.pacs.sender import Destination, send

log = logging.getLogger(__name__)

# C-STORE statuses (DICOM PS3.4 B.2.3)
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DATASET_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000

RADIOGRAPH_STORAGE = {
    "1.2.840.10008.5.1.4.1.1.1": "Computed Radiography Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
}
VERIFICATION = "1.2.840.10008.1.1"


def decodable_transfer_syntaxes() -> list[str]:
    """The transfer syntaxes pydicom can decode here (uncompressed always; compressed ones by plugin)."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import AllTransferSyntaxes

    usable = []
    for uid in AllTransferSyntaxes:
        try:
            if get_decoder(uid).is_available:
                usable.append(str(uid))
        except NotImplementedError:
            continue
    return usable


@dataclass(frozen=True)
class NodeSettings:
    """How the node listens, whom it accepts, where results go."""

    work_dir: Path
    ae_title: str = "BONEFRAC"
    host: str = "127.0.0.1"
    port: int = 11112
    allowed_callers: tuple[str, ...] = ()
    allow_any_caller: bool = False
    destination: Destination | None = None  # None: results are written under work_dir/results
    capacity: int = 64
    capture: bool = True
    max_associations: int = 4

    def __post_init__(self) -> None:
        if not 1 <= len(self.ae_title) <= 16:
            raise ConfigError(f"AE title {self.ae_title!r} must be 1 to 16 characters")
        if not self.allowed_callers and not self.allow_any_caller:
            raise ConfigError(
                "no calling AE title is allowed: name the PACS that may send with --allow AE (repeatable), "
                "or accept any caller with --allow-any-caller"
            )


@dataclass
class DicomNode:
    """The running node: its server, inbox and worker. `start()` returns; `stop()` finishes the image in
    hand and leaves the rest journalled for the next start."""

    settings: NodeSettings
    analyser: FractureAnalyser
    inbox: Inbox = field(init=False)
    _wake: threading.Condition = field(default_factory=threading.Condition, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _series: StudySeries = field(default_factory=StudySeries, init=False)
    _server: Any = field(default=None, init=False)
    _worker: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.inbox = Inbox(self.settings.work_dir, self.settings.capacity)

    @property
    def port(self) -> int:
        """The port listened on (the one asked for, or the one the system chose for port 0)."""
        return int(self._server.server_address[1]) if self._server is not None else self.settings.port

    def start(self) -> None:
        from pynetdicom import AE, evt

        ae = AE(ae_title=self.settings.ae_title)
        ae.maximum_associations = self.settings.max_associations
        syntaxes = decodable_transfer_syntaxes()
        for sop_class in RADIOGRAPH_STORAGE:
            ae.add_supported_context(sop_class, syntaxes)
        ae.add_supported_context(VERIFICATION)
        if not self.settings.allow_any_caller:
            ae.require_calling_aet = list(self.settings.allowed_callers)
        handlers: list[Any] = [(evt.EVT_C_STORE, self._on_store), (evt.EVT_C_ECHO, lambda event: SUCCESS)]
        self._server = ae.start_server(
            (self.settings.host, self.settings.port), block=False, evt_handlers=handlers
        )
        self._worker = threading.Thread(target=self._work, name="bonefrac-dicom-worker", daemon=True)
        self._worker.start()
        waiting = len(self.inbox.waiting())
        log.info(
            "DICOM node %s listening on %s:%d; %d image(s) from before waiting; results to %s",
            self.settings.ae_title, self.settings.host, self.port, waiting,
            self.settings.destination or "nowhere (journal only)",
        )  # fmt: skip

    def stop(self) -> None:
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        if self._server is not None:
            self._server.shutdown()
        if self._worker is not None:
            self._worker.join()
        self.inbox.close()

    def _on_store(self, event: Any) -> int:
        calling = str(event.assoc.requestor.ae_title).strip()
        try:
            dataset = event.dataset
            sop_uid, study_uid = str(dataset.SOPInstanceUID), str(dataset.StudyInstanceUID)
        except Exception as exc:  # a data set pydicom cannot parse, or one without its UIDs
            log.warning(
                "C-STORE from %s refused: the data set cannot be read (%s)", calling, type(exc).__name__
            )
            return CANNOT_UNDERSTAND
        if not (is_uid(sop_uid) and is_uid(study_uid)):
            log.warning("C-STORE from %s refused: SOP Instance or Study Instance UID is not a UID", calling)
            return DATASET_DOES_NOT_MATCH
        if "PixelData" not in dataset:
            log.warning("C-STORE of %s from %s refused: no pixel data", sop_uid, calling)
            return DATASET_DOES_NOT_MATCH
        verdict = self.inbox.accept(sop_uid, study_uid, calling, bytes(event.encoded_dataset()))
        if verdict == "full":
            log.warning(
                "C-STORE of %s from %s refused: %d images already waiting",
                sop_uid,
                calling,
                self.settings.capacity,
            )
            return OUT_OF_RESOURCES
        log.info("C-STORE of %s (study %s) from %s: %s", sop_uid, study_uid, calling, verdict)
        if verdict == "accepted":
            with self._wake:
                self._wake.notify()
        return SUCCESS

    def _work(self) -> None:
        while not self._stopping.is_set():
            waiting = self.inbox.waiting()
            if not waiting:
                with self._wake:
                    self._wake.wait(timeout=1.0)
                continue
            self.process(waiting[0])

    def process(self, sop_uid: str) -> None:
        """Analyse one journalled image and forward its results; the journal says how it ended."""
        try:
            data = self.inbox.path_of(sop_uid).read_bytes()
            _, made = analyse_dicom(
                self.analyser, data, f"instance {sop_uid}", self._series, capture=self.settings.capture
            )
            results = [made.report] + ([made.capture] if made.capture is not None else [])
            if self.settings.destination is not None:
                send(results, self.settings.destination, self.settings.ae_title)
            else:
                write_dicom_results(made, self.settings.work_dir / "results", sop_uid)
        except Exception as exc:  # one image's failure is journalled; the worker goes on with the next
            log.warning(
                "instance %s failed: %s", sop_uid, exc if isinstance(exc, BonefracError) else repr(exc)
            )
            self.inbox.fail(sop_uid, str(exc))
            return
        self.inbox.finish(sop_uid, [str(ds.SOPInstanceUID) for ds in results])
        where = self.settings.destination or self.settings.work_dir / "results"
        log.info("instance %s analysed; %d result(s) to %s", sop_uid, len(results), where)


def allowed_titles(values: Sequence[str]) -> tuple[str, ...]:
    """AE titles from the command line, trimmed; ConfigError for one longer than 16 characters."""
    titles = tuple(v.strip() for v in values if v.strip())
    too_long = [t for t in titles if len(t) > 16]
    if too_long:
        raise ConfigError(f"AE titles are at most 16 characters: {', '.join(too_long)}")
    return titles
