"""The concurrency gate: admission before the body is read, a byte budget for bodies held in memory, inference
slots with a bounded queue, a separate low-priority lane for large images, and a per-request time limit.

Everything that waits here is a coroutine on the event loop: a request that times out, a client that goes
away and a shutdown simply stop waiting; only work that holds a slot runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)
LARGE_LANE_NICENESS = 19  # where SCHED_IDLE is not available


class Overloaded(Exception):
    """Every slot is busy and the queue is full: answer 503 with Retry-After."""


class TimedOut(Exception):
    """The request waited and ran longer than the request timeout."""


@dataclass
class Admission:
    """One admitted request: holds a place in the gate until `close()`, plus the body bytes it reserved."""

    gate: ConcurrencyGate
    reserved_bytes: int = 0
    closed: bool = field(default=False)

    async def reserve_body(self, size: int) -> None:
        """Wait until `size` more bytes of body fit the memory budget (bounded by the request timeout)."""
        await self.gate._reserve_bytes(self, size)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.gate._leave(self)


class _Lane:
    """Slots and a FIFO of waiters for one kind of job, run by its own threads."""

    def __init__(self, name: str, slots: int, queue_length: int, idle_priority: bool = False) -> None:
        self.name = name
        self.slots = slots
        self.queue_length = queue_length
        self.running = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.executor = ThreadPoolExecutor(
            max_workers=slots,
            thread_name_prefix=f"infer-{name}",
            initializer=_idle_priority if idle_priority else None,
        )

    @property
    def waiting(self) -> int:
        return sum(1 for waiter in self.waiters if not waiter.done())

    def wake(self) -> None:
        while self.running < self.slots and self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                self.running += 1
                waiter.set_result(None)


def _idle_priority() -> None:
    """Run this thread only on CPU time nothing else wants: Linux's SCHED_IDLE (a thread is a task with its
    own policy), else the highest niceness."""
    thread = threading.get_native_id()
    try:
        os.sched_setscheduler(thread, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, thread, LARGE_LANE_NICENESS)
    except (AttributeError, OSError) as exc:  # the lane still runs one image at a time
        logger.warning("could not lower the large-image lane's priority: %s", exc)


class ConcurrencyGate:
    """Admits at most `max_concurrent + queue_length` requests at once, before their bodies are read; bodies
    held in memory share `body_budget_bytes`; `max_concurrent` normal jobs run at once in threads, and large
    jobs (over the large-image pixel count) run one at a time in their own lane, started only while no normal
    job waits and run at the idle CPU priority, with at most `large_queue_length` waiting. A job that times
    out keeps its slot until its thread really finishes, so the bound holds for the CPU, not just for the
    waiting coroutines.
    """

    def __init__(
        self,
        max_concurrent: int,
        queue_length: int,
        timeout_s: float,
        body_budget_bytes: int,
        large_queue_length: int = 4,
    ) -> None:
        self.max_concurrent = max_concurrent
        self.queue_length = queue_length
        self.timeout_s = timeout_s
        self.body_budget_bytes = body_budget_bytes
        self._normal = _Lane("normal", max_concurrent, queue_length)
        self._large = _Lane("large", 1, large_queue_length, idle_priority=True)
        self._admitted = 0
        self._body_bytes = 0
        self._body_waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    # state -----------------------------------------------------------------------------------------------
    @property
    def admitted(self) -> int:
        return self._admitted

    @property
    def running(self) -> int:
        return self._normal.running + self._large.running

    @property
    def waiting(self) -> int:
        return self._normal.waiting + self._large.waiting

    @property
    def large_lane_full(self) -> bool:
        """A large image now would be refused: the large-image lane's queue is full."""
        return self._large.waiting >= self._large.queue_length

    @property
    def body_bytes(self) -> int:
        return self._body_bytes

    # admission -------------------------------------------------------------------------------------------
    def admit(self) -> Admission:
        """A place for one request, before its body is read; Overloaded when all places are taken."""
        limit = self.max_concurrent + self.queue_length
        if self._admitted >= limit:
            raise Overloaded(
                f"{self.running} requests running and {self._admitted - self.running} waiting "
                f"(limit {self.max_concurrent} + queue {self.queue_length})"
            )
        self._admitted += 1
        return Admission(self)

    def _leave(self, admission: Admission) -> None:
        self._admitted -= 1
        self._body_bytes -= admission.reserved_bytes
        admission.reserved_bytes = 0
        self._wake_body_waiters()

    async def _reserve_bytes(self, admission: Admission, size: int) -> None:
        size = min(size, self.body_budget_bytes)  # one body may always have the whole budget
        if self._body_bytes + size > self.body_budget_bytes or self._body_waiters:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._body_waiters.append((size, waiter))
            try:
                await asyncio.wait_for(waiter, self.timeout_s)
            except TimeoutError as exc:
                raise TimedOut(
                    f"the request waited longer than {self.timeout_s:g} s for memory to hold its upload"
                ) from exc
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._body_bytes -= size  # granted just as we gave up: give it back
                    self._wake_body_waiters()
                raise
        else:
            self._body_bytes += size
        admission.reserved_bytes += size

    def _wake_body_waiters(self) -> None:
        while self._body_waiters:
            size, waiter = self._body_waiters[0]
            if waiter.done():
                self._body_waiters.popleft()
                continue
            if self._body_bytes + size > self.body_budget_bytes:
                return
            self._body_waiters.popleft()
            self._body_bytes += size
            waiter.set_result(None)

    # running ---------------------------------------------------------------------------------------------
    async def run(self, job: Callable[[], T], large: bool = False) -> tuple[T, float]:
        """Run `job` in a worker thread of its lane; returns (result, seconds waited for a slot).

        Raises Overloaded when the large lane's queue is full, TimedOut past the request timeout.
        """
        lane = self._large if large else self._normal
        if large and self.large_lane_full:
            raise Overloaded(
                f"{lane.waiting} large images are already waiting (limit {lane.queue_length}; "
                "images above BONEFRAC_LARGE_IMAGE_PIXELS are analysed one at a time)"
            )
        started = time.perf_counter()
        deadline = started + self.timeout_s
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.waiters.append(slot)
        self._wake()
        try:
            await asyncio.wait_for(slot, self.timeout_s)
        except TimeoutError as exc:
            raise TimedOut("the request timed out while waiting for a slot") from exc
        except BaseException:
            if slot.done() and not slot.cancelled():
                self._free(lane)  # the slot was granted as we were cancelled
            raise
        waited = time.perf_counter() - started
        future = asyncio.get_running_loop().run_in_executor(lane.executor, job)
        future.add_done_callback(lambda _f: self._free(lane))
        try:
            result = await asyncio.wait_for(
                asyncio.shield(future), max(deadline - time.perf_counter(), 0.001)
            )
        except TimeoutError as exc:
            future.add_done_callback(_ignore_result)
            raise TimedOut(f"the request took longer than {self.timeout_s:g} s") from exc
        except asyncio.CancelledError:
            future.add_done_callback(_ignore_result)
            raise
        return result, waited

    def _free(self, lane: _Lane) -> None:
        lane.running -= 1
        self._wake()

    def _wake(self) -> None:
        """Start what may start: normal jobs first; a large one only while no normal job waits."""
        self._normal.wake()
        if not self._normal.waiting:
            self._large.wake()

    def shutdown(self) -> None:
        """Drop the waiting requests, let the running jobs finish, then stop the threads."""
        for lane in (self._normal, self._large):
            for waiter in lane.waiters:
                waiter.cancel()
            lane.waiters.clear()
            lane.executor.shutdown(wait=True, cancel_futures=True)


def _ignore_result(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
