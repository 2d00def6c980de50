"""Which studies have been processed from a DICOMweb server: a SQLite file, so a rerun or a watch loop
analyses each study once. A study whose images could not all be used is `failed`, with the reasons. Each
image whose results were stored is kept too, so a run cut off inside a study goes on where it stopped."""

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
);
CREATE TABLE IF NOT EXISTS instances (
    sop_instance_uid TEXT PRIMARY KEY,
    study_instance_uid TEXT NOT NULL,
    results INTEGER NOT NULL,
    stored_at REAL NOT NULL
)
"""


class StudyLedger:
    """The processed studies of one DICOMweb server, kept in `path`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.executescript(_SCHEMA)

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

    def stored_instances(self, study_uid: str) -> dict[str, int]:
        """The study's images whose results were stored, with how many results each got."""
        rows = self._db.execute(
            "SELECT sop_instance_uid, results FROM instances WHERE study_instance_uid = ?", (study_uid,)
        ).fetchall()
        return {str(uid): int(count) for uid, count in rows}

    def record_instance(self, study_uid: str, sop_uid: str, results: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO instances VALUES (?, ?, ?, ?)", (sop_uid, study_uid, results, time.time())
        )
