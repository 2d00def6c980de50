import os

from bonefrac.data.parallel import map_files, shared_state


def _square_and_pid(value: int) -> tuple[int, int]:
    return value * value, os.getpid()


def test_map_files_keeps_order_across_processes_and_reports_progress():
    ticks = []
    results = map_files(_square_and_pid, list(range(100)), workers=2, on_advance=ticks.append)
    assert [r[0] for r in results] == [v * v for v in range(100)] and sum(ticks) == 100
    assert {pid for _, pid in results} != {os.getpid()}


def test_map_files_stays_in_process_for_few_files():
    results = map_files(_square_and_pid, [1, 2, 3], workers=2)
    assert [r for r, _ in results] == [1, 4, 9] and {pid for _, pid in results} == {os.getpid()}


def _shared_item(index: int) -> tuple[str, int]:
    return shared_state()[index], os.getpid()


def test_shared_data_reaches_every_worker_and_is_gone_afterwards():
    words = [f"word {i}" for i in range(100)]
    results = map_files(_shared_item, list(reversed(range(100))), workers=2, shared=words)
    assert [word for word, _ in results] == list(reversed(words))
    assert {pid for _, pid in results} != {os.getpid()}
    in_process = map_files(_shared_item, [0, 1], workers=2, shared=["in", "process"])
    assert [word for word, _ in in_process] == ["in", "process"]
    assert shared_state() is None
