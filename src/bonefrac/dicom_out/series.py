"""Where one radiograph's results are filed: new series in the source's study, numbered apart from its own."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.uid import generate_uid

REPORT_SERIES_NUMBER = 9901
CAPTURE_SERIES_NUMBER = 9902


@dataclass(frozen=True)
class ResultSeries:
    """The series UIDs and numbers results go into (one pair per run, shared by every image of a study)."""

    report_series_uid: str = field(default_factory=generate_uid)
    capture_series_uid: str = field(default_factory=generate_uid)
    report_series_number: int = REPORT_SERIES_NUMBER
    capture_series_number: int = CAPTURE_SERIES_NUMBER
