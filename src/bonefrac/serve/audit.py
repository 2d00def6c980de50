"""Audit log: one row per API request in a SQLAlchemy database (SQLite by default, any URL for replicas).

Rows are written synchronously, in one dedicated thread, before the answer leaves the service: a client
that got an answer has its row stored, and shutdown waits for the writes in progress, so stopping mid-load
loses nothing. The log fails closed: a row that cannot be written within the audit timeout (a locked or
unreachable database) raises AuditUnavailable, and the service answers 503 instead of the result.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine

from bonefrac.errors import ConfigError
from bonefrac.infer.result_schema import ImageResult

logger = logging.getLogger(__name__)
metadata = MetaData()

audit_table = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", DateTime(timezone=True), nullable=False, index=True),
    Column("request_id", String(64), nullable=False, index=True),  # the service's own, unique
    Column("client_request_id", String(64), nullable=True),  # the X-Request-ID the client sent, if any
    Column("route", String(64), nullable=False),
    Column("client_key_id", String(64), nullable=True),
    Column("client_address", String(64), nullable=True),
    Column("status_code", Integer, nullable=False),
    Column("outcome", String(64), nullable=False),  # "ok" or the error code
    Column("image_sha256", String(64), nullable=True),
    Column("image_bytes", Integer, nullable=True),
    Column("image_width", Integer, nullable=True),
    Column("image_height", Integer, nullable=True),
    Column("model_sha256", String(64), nullable=True),
    Column("threshold", Float, nullable=True),
    Column("image_call", String(32), nullable=True),  # high_specificity, high_sensitivity or negative
    Column("fracture_probability", Float, nullable=True),  # the classifier's; null without one
    Column("image_score", Float, nullable=True),
    Column("detection_count", Integer, nullable=True),
    Column("detections", Text, nullable=True),  # JSON list
    Column("duration_ms", Float, nullable=True),
    Column("image_data", LargeBinary, nullable=True),  # only with BONEFRAC_AUDIT_STORE_PIXELS=true
)


@dataclass
class AuditEntry:
    """What one request leaves in the audit log; routes fill what they learn as they go."""

    request_id: str
    route: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    client_request_id: str | None = None
    client_key_id: str | None = None
    client_address: str | None = None
    status_code: int = 0
    outcome: str = "ok"
    image_sha256: str | None = None
    image_bytes: int | None = None
    image_width: int | None = None
    image_height: int | None = None
    model_sha256: str | None = None
    threshold: float | None = None
    image_call: str | None = None
    fracture_probability: float | None = None
    image_score: float | None = None
    detections: list[dict[str, Any]] | None = None
    duration_ms: float | None = None
    image_data: bytes | None = None
    abandoned: bool = False  # its write timed out and the client got a 503: never store it late

    def record_result(self, result: ImageResult) -> None:
        """What an analysis found (the upload's own facts included)."""
        self.image_sha256 = result.image.sha256
        self.image_bytes = result.image.bytes
        self.image_width = result.image.width
        self.image_height = result.image.height
        self.model_sha256 = result.model.sha256
        self.threshold = result.threshold
        self.image_call = result.image.call
        self.fracture_probability = result.image.fracture_probability
        self.image_score = result.image.score
        self.detections = [d.model_dump(mode="json") for d in result.detections]

    def row(self, store_pixels: bool) -> dict[str, Any]:
        return {
            "time": self.time,
            "request_id": self.request_id,
            "client_request_id": self.client_request_id,
            "route": self.route,
            "client_key_id": self.client_key_id,
            "client_address": self.client_address,
            "status_code": self.status_code,
            "outcome": self.outcome,
            "image_sha256": self.image_sha256,
            "image_bytes": self.image_bytes,
            "image_width": self.image_width,
            "image_height": self.image_height,
            "model_sha256": self.model_sha256,
            "threshold": self.threshold,
            "image_call": self.image_call,
            "fracture_probability": self.fracture_probability,
            "image_score": self.image_score,
            "detection_count": None if self.detections is None else len(self.detections),
            "detections": None if self.detections is None else json.dumps(self.detections),
            "duration_ms": self.duration_ms,
            "image_data": self.image_data if store_pixels else None,
        }


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the nullable columns a newer bonefrac records to an audit table an older one created (rows
    written before keep NULL there); returns the names added."""
    present = {column["name"] for column in inspect(engine).get_columns(audit_table.name)}
    missing = [column for column in audit_table.columns if column.name not in present]
    with engine.begin() as connection:
        for column in missing:
            if not column.nullable:
                raise ConfigError(
                    f"the audit table lacks the required column {column.name!r}; use a new database"
                )
            kind = column.type.compile(dialect=engine.dialect)
            name = engine.dialect.identifier_preparer.quote(column.name)
            connection.execute(text(f"ALTER TABLE {audit_table.name} ADD COLUMN {name} {kind}"))
            logger.info("audit table: added column %s", column.name)
    return [column.name for column in missing]


class AuditUnavailable(Exception):
    """An audit row could not be written in time: the request must not be answered as if it were."""


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def apply(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    return apply


class AuditLog:
    """Writes AuditEntry rows; one writer thread keeps SQLite happy and the order of rows stable."""

    def __init__(self, url: str, store_pixels: bool = False, timeout_s: float = 2.0) -> None:
        try:
            self.engine: Engine = create_engine(url, future=True, pool_pre_ping=True)
        except Exception as exc:  # SQLAlchemy raises several types for a bad URL
            raise ConfigError(f"audit database URL {url!r} is not usable: {exc}") from exc
        if self.engine.dialect.name == "sqlite":
            # a lock held elsewhere fails this write fast instead of queueing every later one behind it
            event.listen(self.engine, "connect", _sqlite_pragmas(min(250, int(timeout_s * 500))))
        self.store_pixels = store_pixels
        self.timeout_s = timeout_s
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")
        try:
            metadata.create_all(self.engine)
            add_missing_columns(self.engine)
        except Exception as exc:
            raise ConfigError(f"cannot create the audit table at {url!r}: {exc}") from exc

    def write(self, entry: AuditEntry) -> None:
        """Store one entry now (blocking); skipped when its request already gave up on it."""
        if entry.abandoned:
            return
        with self.engine.begin() as connection:
            connection.execute(insert(audit_table).values(**entry.row(self.store_pixels)))

    async def write_async(self, entry: AuditEntry) -> None:
        """Store one entry in the writer thread within the audit timeout; AuditUnavailable otherwise."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._writer, self.write, entry)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except TimeoutError:
            entry.abandoned = True
            future.add_done_callback(lambda done: done.cancelled() or done.exception())
            logger.error("audit write timed out", extra={"request_id": entry.request_id})
            raise AuditUnavailable(
                f"the audit log did not store this request within {self.timeout_s:g} s "
                "(BONEFRAC_AUDIT_TIMEOUT_S)"
            ) from None
        except Exception as exc:  # SQLAlchemy raises many types for a locked or unreachable database
            logger.error("audit write failed: %s", exc, extra={"request_id": entry.request_id})
            raise AuditUnavailable(
                f"the audit log could not store this request ({type(exc).__name__})"
            ) from exc

    def rows(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The latest rows, newest last (for tests and operators)."""
        with self.engine.connect() as connection:
            result = connection.execute(select(audit_table).order_by(audit_table.c.id.desc()).limit(limit))
            return [dict(r._mapping) for r in reversed(result.fetchall())]

    def close(self) -> None:
        """Wait for pending writes, then release the connections."""
        self._writer.shutdown(wait=True)
        self.engine.dispose()
