"""Accepted images, durable: each is on disk and in a SQLite journal before the sender hears "success", and
stays there until it is analysed and forwarded (done) or its failure is recorded (failed).

States: accepted -> done | failed. A node that stops loses nothing: on start, what is still `accepted` is
analysed. An image sent again (same SOP Instance UID) is not analysed twice; a failed one may be retried.
Files are named by SOP Instance UID, which is checked to be a UID (digits and dots), never a path.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)*$")
Verdict = Literal["accepted", "seen", "full"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    sop_instance_uid TEXT PRIMARY KEY,
    study_instance_uid TEXT NOT NULL,
    calling_ae TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('accepted', 'done', 'failed')),
    received_at REAL NOT NULL,
    finished_at REAL,
    results TEXT,
    error TEXT
)
"""


def is_uid(value: str) -> bool:
    """A DICOM UID: up to 64 characters of digits separated by single dots."""
    return len(value) <= 64 and bool(UID_PATTERN.match(value))


@dataclass(frozen=True)
class InboxEntry:
    """One image in the journal."""

    sop_instance_uid: str
    study_instance_uid: str
    calling_ae: str
    state: str
    results: str | None
    error: str | None


class Inbox:
    """The spool folder and journal under `folder`; at most `capacity` images waiting at once."""

    def __init__(self, folder: Path, capacity: int) -> None:
        self.folder = folder
        self.spool = folder / "spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity
        self._lock = threading.Lock()
        self._db = sqlite3.connect(folder / "journal.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def path_of(self, sop_instance_uid: str) -> Path:
        if not is_uid(sop_instance_uid):
            raise ValueError(f"not a DICOM UID: {sop_instance_uid!r}")
        return self.spool / f"{sop_instance_uid}.dcm"

    def accept(self, sop_instance_uid: str, study_instance_uid: str, calling_ae: str, data: bytes) -> Verdict:
        """Keep `data` (a Part 10 file) for analysis: "accepted", "seen" (already here or done) or "full"."""
        path = self.path_of(sop_instance_uid)
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM instances WHERE sop_instance_uid = ?", (sop_instance_uid,)
            ).fetchone()
            if row is not None and row[0] in ("accepted", "done"):
                return "seen"
            (waiting,) = self._db.execute(
                "SELECT COUNT(*) FROM instances WHERE state = 'accepted'"
            ).fetchone()
            if waiting >= self.capacity:
                return "full"
            partial = path.with_suffix(".part")
            with open(partial, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, path)
            self._db.execute(
                "INSERT OR REPLACE INTO instances (sop_instance_uid, study_instance_uid, calling_ae, state, "
                "received_at) VALUES (?, ?, ?, 'accepted', ?)",
                (sop_instance_uid, study_instance_uid, calling_ae, time.time()),
            )
        return "accepted"

    def waiting(self) -> list[str]:
        """SOP Instance UIDs accepted and not yet finished, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT sop_instance_uid FROM instances WHERE state = 'accepted' ORDER BY received_at"
            ).fetchall()
        return [uid for (uid,) in rows]

    def finish(self, sop_instance_uid: str, results: list[str]) -> None:
        """Analysed and forwarded: the journal keeps the result UIDs; the image itself is deleted."""
        self._close(sop_instance_uid, "done", results=" ".join(results))
        self.path_of(sop_instance_uid).unlink(missing_ok=True)

    def fail(self, sop_instance_uid: str, error: str) -> None:
        """Not analysed or not forwarded: the reason stays in the journal, the image in the spool."""
        self._close(sop_instance_uid, "failed", error=error)

    def _close(
        self, sop_instance_uid: str, state: str, *, results: str | None = None, error: str | None = None
    ) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE instances SET state = ?, finished_at = ?, results = ?, error = ? "
                "WHERE sop_instance_uid = ?",
                (state, time.time(), results, error, sop_instance_uid),
            )

    def entries(self) -> list[InboxEntry]:
        """Every image in the journal, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT sop_instance_uid, study_instance_uid, calling_ae, state, results, error "
                "FROM instances ORDER BY received_at"
            ).fetchall()
        return [InboxEntry(*row) for row in rows]
