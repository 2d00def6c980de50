"""The concurrency gate: bounded admission and queue (beyond them a clean 503 with Retry-After), slow requests
time out, a byte budget for bodies, the large-image lane."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bonefrac.serve.gate import ConcurrencyGate, Overloaded, TimedOut


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.01)


def test_gate_queue_full_answers_503_with_retry_after(client_for, samples, scripted_engine):
    release = threading.Event()
    client = client_for(
        engine=scripted_engine(block=release), max_concurrent=1, queue_length=1, retry_after_s=3
    )
    gate = client.app.state.service.gate
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(client.post, "/v1/detect", files={"file": samples.png()})
        _wait_until(lambda: gate.running == 1)
        second = pool.submit(client.post, "/v1/detect", files={"file": samples.png()})
        _wait_until(lambda: gate.waiting == 1)
        refused = client.post("/v1/detect", files={"file": samples.png()})
        metrics = client.get("/metrics").text
        release.set()
        assert first.result().status_code == 200 and second.result().status_code == 200
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "3"
    assert refused.json()["error"]["code"] == "queue_full"
    assert 'bonefrac_rejections_total{reason="queue_full"} 1.0' in metrics
    assert "bonefrac_queue_depth 1.0" in metrics
    assert client.post("/v1/detect", files={"file": samples.png()}).status_code == 200  # recovered


def test_gate_timeout_answers_503_and_the_slot_comes_back(client_for, samples, scripted_engine):
    release = threading.Event()
    client = client_for(engine=scripted_engine(block=release), request_timeout_s=0.3, max_concurrent=1)
    response = client.post("/v1/detect", files={"file": samples.png()})
    assert response.status_code == 503 and response.json()["error"]["code"] == "timeout"
    assert response.headers["Retry-After"] == "1"
    gate = client.app.state.service.gate
    assert gate.running == 1  # the thread still holds its slot until the model returns
    release.set()
    _wait_until(lambda: gate.running == 0 and gate.waiting == 0)
    assert client.post("/v1/detect", files={"file": samples.png()}).status_code == 200


def test_gate_counts_admitted_jobs_and_refuses_beyond_the_bound():
    async def scenario() -> None:
        gate = ConcurrencyGate(max_concurrent=1, queue_length=1, timeout_s=5, body_budget_bytes=100)
        release = threading.Event()
        admissions = [gate.admit() for _ in range(2)]
        tasks = [asyncio.ensure_future(gate.run(release.wait)) for _ in range(2)]
        await asyncio.sleep(0.1)
        assert (gate.running, gate.waiting, gate.admitted) == (1, 1, 2)
        with pytest.raises(Overloaded, match="limit 1 \\+ queue 1"):
            gate.admit()
        release.set()
        results = await asyncio.gather(*tasks)
        assert [r[0] for r in results] == [True, True]
        assert results[1][1] >= 0.0
        for admission in admissions:
            admission.close()
        assert gate.admitted == 0
        gate.admit().close()
        gate.shutdown()

    asyncio.run(scenario())


def test_gate_skips_a_job_whose_request_timed_out_in_the_queue():
    async def scenario() -> None:
        gate = ConcurrencyGate(max_concurrent=1, queue_length=4, timeout_s=0.2, body_budget_bytes=100)
        release = threading.Event()
        ran = []
        first = asyncio.ensure_future(gate.run(release.wait))
        await asyncio.sleep(0.05)
        with pytest.raises(TimedOut):
            await gate.run(lambda: ran.append(1))
        release.set()
        with pytest.raises(TimedOut):
            await first
        await asyncio.sleep(0.2)
        assert ran == [] and gate.waiting == 0 and gate.running == 0
        gate.shutdown()

    asyncio.run(scenario())


def test_gate_body_budget_makes_a_second_body_wait_for_the_first():
    async def scenario() -> None:
        gate = ConcurrencyGate(max_concurrent=2, queue_length=2, timeout_s=1, body_budget_bytes=100)
        first, second = gate.admit(), gate.admit()
        await first.reserve_body(80)
        waiting = asyncio.ensure_future(second.reserve_body(50))
        await asyncio.sleep(0.05)
        assert not waiting.done() and gate.body_bytes == 80
        first.close()
        await asyncio.wait_for(waiting, 1)
        assert gate.body_bytes == 50
        second.close()
        assert gate.body_bytes == 0
        gate.shutdown()

    asyncio.run(scenario())


def test_gate_large_lane_runs_one_at_a_time_beside_the_normal_slots():
    async def scenario() -> None:
        gate = ConcurrencyGate(
            max_concurrent=1, queue_length=4, timeout_s=5, body_budget_bytes=100, large_queue_length=1
        )
        release = threading.Event()
        large = [asyncio.ensure_future(gate.run(release.wait, large=True)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded, match="large images"):
            await gate.run(lambda: None, large=True)
        normal, waited = await gate.run(lambda: "normal")  # the normal slot is free meanwhile
        assert normal == "normal" and waited < 1
        release.set()
        assert [r[0] for r in await asyncio.gather(*large)] == [True, True]
        gate.shutdown()

    asyncio.run(scenario())


def test_gate_refusals_are_answered_after_the_delay_with_the_place_given_back(client_for, samples):
    client = client_for(refusal_delay_s=0.4, max_concurrent=1, queue_length=0)
    gate = client.app.state.service.gate
    with ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        refused = pool.submit(client.post, "/v1/detect", files={"file": b"not an image at all"})
        time.sleep(0.2)
        admitted_meanwhile = gate.admitted
        answer = refused.result()
    assert answer.status_code == 422 and time.monotonic() - started >= 0.4
    assert admitted_meanwhile == 0  # the one place was free while the refusal waited
    assert client.post("/v1/detect", files={"file": samples.png()}).status_code == 200
