"""Bounded concurrency with a bounded queue, and a per-request time limit, for blocking work in threads."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Overloaded(Exception):
    """Every slot is busy and the queue is full: answer 503 with Retry-After."""


class TimedOut(Exception):
    """The request waited and ran longer than the request timeout."""


class InferenceGate:
    """Runs at most `max_concurrent` jobs at once in a thread pool; at most `queue_length` more may wait.

    A job that times out keeps its slot until its thread really finishes, so the bound holds for the CPU,
    not just for the waiting coroutines.
    """

    def __init__(self, max_concurrent: int, queue_length: int, threads: int, timeout_s: float) -> None:
        self.max_concurrent = max_concurrent
        self.queue_length = queue_length
        self.timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(
            max_workers=max(threads, max_concurrent), thread_name_prefix="infer"
        )
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting
        self._running = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return self._admitted - self._running

    def _admit(self) -> None:
        with self._lock:
            if self._admitted >= self.max_concurrent + self.queue_length:
                raise Overloaded(
                    f"{self._running} requests running and {self._admitted - self._running} waiting "
                    f"(limit {self.max_concurrent} + queue {self.queue_length})"
                )
            self._admitted += 1

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, job: Callable[[], T]) -> tuple[T, float]:
        """Run `job` in a worker thread under the bounds; returns (result, seconds waited for a slot)."""
        self._admit()
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        waited: list[float] = []
        abandoned = threading.Event()

        def guarded() -> T:
            try:
                self._slots.acquire()
                try:
                    if abandoned.is_set():
                        raise TimedOut("the request timed out while waiting for a slot")
                    with self._lock:
                        self._running += 1
                    waited.append(time.perf_counter() - started)
                    try:
                        return job()
                    finally:
                        with self._lock:
                            self._running -= 1
                finally:
                    self._slots.release()
            finally:
                self._release()

        try:
            future = loop.run_in_executor(self._executor, guarded)
        except RuntimeError:
            self._release()
            raise
        try:
            result = await asyncio.wait_for(asyncio.shield(future), timeout=self.timeout_s)
        except TimeoutError as exc:
            abandoned.set()
            future.add_done_callback(_ignore_result)
            raise TimedOut(f"the request took longer than {self.timeout_s:g} s") from exc
        return result, (waited[0] if waited else 0.0)

    def shutdown(self) -> None:
        """Finish the jobs already running, then stop the threads."""
        self._executor.shutdown(wait=True, cancel_futures=False)


def _ignore_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
