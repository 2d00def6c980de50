"""Which studies have been processed from a DICOMweb server: a SQLite file, so a rerun or a watch loop
analyses each study once. A study whose images could not all be used is `failed`, with the reasons."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    study_instance_uid TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('done', 'failed')),
    images INTEGER NOT NULL,
    results INTEGER NOT NULL,
    finished_at REAL NOT NULL,
    error TEXT
)
"""


class StudyLedger:
    """The processed studies of one DICOMweb server, kept in `path`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def state(self, study_uid: str) -> str | None:
        row = self._db.execute(
            "SELECT state FROM studies WHERE study_instance_uid = ?", (study_uid,)
        ).fetchone()
        return None if row is None else str(row[0])

    def record(self, study_uid: str, *, images: int, results: int, errors: list[str]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO studies VALUES (?, ?, ?, ?, ?, ?)",
            (
                study_uid,
                "failed" if errors else "done",
                images,
                results,
                time.time(),
                "; ".join(errors) or None,
            ),
        )
