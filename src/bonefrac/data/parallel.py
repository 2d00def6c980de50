"""Run a per-file function over many paths on all CPU cores, in order, reporting progress."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

ResultT = TypeVar("ResultT")

MIN_FILES_PER_WORKER = 32  # below this, starting processes costs more than it saves

_shared: Any = None


def shared_state() -> Any:
    """The `shared` value of the `map_files` call running `function` (in worker processes and in this one)."""
    return _shared


def _set_shared(value: Any) -> None:
    global _shared
    _shared = value


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _context() -> multiprocessing.context.BaseContext:
    """fork where the platform has it (no re-import of the caller's __main__), else spawn."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def map_files(
    function: Callable[..., ResultT],
    paths: Sequence[object],
    workers: int | None = None,
    on_advance: Callable[[int], None] | None = None,
    shared: Any = None,
) -> list[ResultT]:
    """[function(p) for p in paths], spread over `workers` processes (default: all cores) when worth it.

    `shared` reaches every worker once (not with each task), where `function` reads it with `shared_state()`:
    for large read-only data that many small tasks index into.
    """
    workers = default_workers() if workers is None else max(1, workers)
    workers = min(workers, max(1, len(paths) // MIN_FILES_PER_WORKER))
    results: list[ResultT] = []
    if workers == 1:
        before = _shared
        _set_shared(shared)
        try:
            for path in paths:
                results.append(function(path))
                if on_advance:
                    on_advance(1)
        finally:
            _set_shared(before)
        return results
    chunksize = max(1, min(32, len(paths) // (workers * 8)))
    with _context().Pool(workers, initializer=_set_shared, initargs=(shared,)) as pool:
        for result in pool.imap(function, paths, chunksize=chunksize):
            results.append(result)
            if on_advance:
                on_advance(1)
    return results
