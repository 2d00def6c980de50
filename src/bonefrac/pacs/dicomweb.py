"""`bonefrac dicom process --dicomweb URL`: find studies (QIDO-RS), fetch their radiographs (WADO-RS), analyse
them and store the results (STOW-RS) into the same study, once per study (dicomweb-client).

A study is skipped when the ledger has it, or when it already holds a bonefrac result series (another run
wrote them). A run cut off inside a study goes on with its images whose results are not stored yet. Only
radiograph storage classes are fetched; bonefrac's own captures are never analysed.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from bonefrac.dicom_out.capture import CAPTURE_SERIES_DESCRIPTION
from bonefrac.dicom_out.report import REPORT_SERIES_DESCRIPTION
from bonefrac.dicom_out.write import StudySeries, analyse_dicom, part10
from bonefrac.errors import BonefracError, ConfigError, PacsError
from bonefrac.infer.analysis import FractureAnalyser
from bonefrac.pacs.ledger import StudyLedger
from bonefrac.pacs.node import RADIOGRAPH_STORAGE

log = logging.getLogger(__name__)

OWN_SERIES = {REPORT_SERIES_DESCRIPTION, CAPTURE_SERIES_DESCRIPTION}
# DICOM JSON tags (PS3.18 F.2)
STUDY_UID, SERIES_UID, SOP_UID, SOP_CLASS = "0020000D", "0020000E", "00080018", "00080016"
SERIES_DESCRIPTION, MODALITY = "0008103E", "00080060"


def _value(item: dict[str, Any], tag: str) -> str:
    values = item.get(tag, {}).get("Value") or [""]
    return str(values[0])


@dataclass(frozen=True)
class Connection:
    """A DICOMweb server and how to authenticate to it."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None

    def client(self) -> Any:
        from dicomweb_client.api import DICOMwebClient
        from dicomweb_client.session_utils import create_session, create_session_from_user_pass

        if (self.username is None) != (self.password is None):
            raise ConfigError("basic authentication needs both --user and --password")
        session = (
            create_session_from_user_pass(self.username, self.password)
            if self.username is not None and self.password is not None
            else create_session()
        )
        return DICOMwebClient(self.url, session=session, headers=self.headers or None)


def parse_headers(values: Iterable[str]) -> dict[str, str]:
    """`Name: value` strings as a header mapping; ConfigError for one without a colon."""
    headers = {}
    for text in values:
        name, colon, value = text.partition(":")
        if not colon or not name.strip():
            raise ConfigError(f"header {text!r} is not 'Name: value', e.g. 'Authorization: Bearer TOKEN'")
        headers[name.strip()] = value.strip()
    return headers


@dataclass(frozen=True)
class StudyOutcome:
    """What processing one study did."""

    study_uid: str
    images: int
    results: int
    errors: tuple[str, ...]
    skipped: str | None = None  # why the study was not processed


@dataclass
class DicomwebProcessor:
    """Processes studies of one server with one analyser, recording them in a ledger."""

    connection: Connection
    analyser: FractureAnalyser
    ledger: StudyLedger
    capture: bool = True
    retry_failed: bool = False
    _client: Any = field(default=None, init=False)
    _series: StudySeries = field(default_factory=StudySeries, init=False)

    def __post_init__(self) -> None:
        self._client = self.connection.client()

    def _call(self, what: str, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except BonefracError:
            raise
        except Exception as exc:  # requests' and dicomweb-client's errors: name the server and the step
            raise PacsError(f"{self.connection.url}: {what} failed ({type(exc).__name__}: {exc})") from exc

    def find_studies(self, since: str | None = None, study_uids: Iterable[str] = ()) -> list[str]:
        """Study Instance UIDs on the server: the given ones, or every study from `since` (YYYYMMDD) on."""
        uids = list(study_uids)
        if uids:
            return uids
        filters = {"StudyDate": f"{since}-"} if since else None
        found = self._call(
            "QIDO-RS study search",
            lambda: self._client.search_for_studies(search_filters=filters, get_remaining=True),
        )
        return sorted({_value(item, STUDY_UID) for item in found} - {""})

    def process_study(self, study_uid: str) -> StudyOutcome:
        """Analyse the study's radiographs and store their results in it, unless done before."""
        state = self.ledger.state(study_uid)
        if state == "done" or (state == "failed" and not self.retry_failed):
            return StudyOutcome(study_uid, 0, 0, (), skipped=f"in the ledger ({state})")
        series = self._call(
            f"QIDO-RS series search of study {study_uid}",
            lambda: self._client.search_for_series(study_uid, get_remaining=True),
        )
        stored = self.ledger.stored_instances(study_uid)  # from a run cut off inside this study
        if not stored and any(_value(item, SERIES_DESCRIPTION) in OWN_SERIES for item in series):
            return StudyOutcome(study_uid, 0, 0, (), skipped="already holds bonefrac results")
        images, results, errors = 0, 0, []
        for item in series:
            if _value(item, SERIES_DESCRIPTION) in OWN_SERIES:
                continue  # bonefrac's own reports and captures are never analysed
            series_uid = _value(item, SERIES_UID)
            instances = self._call(
                f"QIDO-RS instance search of series {series_uid}",
                functools.partial(
                    self._client.search_for_instances, study_uid, series_uid, get_remaining=True
                ),
            )
            for instance in instances:
                if _value(instance, SOP_CLASS) not in RADIOGRAPH_STORAGE:
                    continue
                images += 1
                sop_uid = _value(instance, SOP_UID)
                if sop_uid in stored:
                    results += stored[sop_uid]
                    continue
                try:
                    made = self._process_instance(study_uid, series_uid, sop_uid)
                    self.ledger.record_instance(study_uid, sop_uid, made)
                    results += made
                except PacsError:
                    raise  # the server itself failed: stop, record nothing, retry next time
                except BonefracError as exc:
                    log.warning("instance %s of study %s not analysed: %s", sop_uid, study_uid, exc)
                    errors.append(f"{sop_uid}: {exc}")
        self.ledger.record(study_uid, images=images, results=results, errors=errors)
        log.debug("study %s: %d radiograph(s), %d result(s) stored", study_uid, images, results)
        return StudyOutcome(study_uid, images, results, tuple(errors))

    def _process_instance(self, study_uid: str, series_uid: str, sop_uid: str) -> int:
        dataset: Dataset = self._call(
            f"WADO-RS retrieval of instance {sop_uid}",
            lambda: self._client.retrieve_instance(study_uid, series_uid, sop_uid),
        )
        what = f"instance {sop_uid}"
        _, made = analyse_dicom(self.analyser, part10(dataset), what, self._series, capture=self.capture)
        outputs = [made.report] + ([made.capture] if made.capture is not None else [])
        self._call(
            f"STOW-RS of the results of {sop_uid}",
            lambda: self._client.store_instances(outputs, study_instance_uid=study_uid),
        )
        return len(outputs)
