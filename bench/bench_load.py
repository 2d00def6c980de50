"""Load test of the real service: `bonefrac serve` in a subprocess on 127.0.0.1, asyncio httpx clients.

Levels of 1, 8 and 32 concurrent clients (each bounded in requests and in seconds) post one synthetic
radiograph (JPEG) to /v1/detect. Reports throughput, p50/p95/p99 latency, 503s (queue full: clients honour
Retry-After), other errors, the server's peak RSS (VmHWM) and the time from process start to /readyz.

Default model: YOLO11n built from yolo11n.yaml with RANDOM weights (80 classes) exported to ONNX at 640 by
ultralytics (needs the train extra once; cached in .data/bench-model). Random weights cost the same compute as
trained ones but find almost nothing, so NMS work is minimal. Use --model for a real model.

    PYTHONPATH=src python bench/bench_load.py [--model m.onnx] [--append]
Targets (2-core machine, imgsz 640): >= 12 images/s at 8 clients with 0 errors; clean 503s beyond the queue
bound at 32 clients; ready within 5 s; RSS < 400 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from _results import RESULTS, append_rows, machine_label

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Service load test (`bench/bench_load.py --append`)"
HEADER = "| date (UTC) | machine | bench | model | setting | result |\n|---|---|---|---|---|---|\n"


@dataclass
class LevelResult:
    clients: int
    seconds: float = 0.0
    ok: int = 0
    busy_503: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(q / 100 * (len(data) - 1))))] * 1000


def bench_model(cache: Path) -> Path:
    """yolo11n.yaml with random weights, exported to ONNX at 640 (once)."""
    target = cache / "model.onnx"
    if target.is_file():
        return target
    sys.path.insert(0, str(REPO / "src"))
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    import shutil

    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        model = YOLO("yolo11n.yaml")
        pt = Path(tmp) / "random.pt"
        model.save(str(pt))
        exported = Path(YOLO(str(pt)).export(format="onnx", imgsz=640, simplify=False, dynamic=False))
        cache.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(exported, target)
    return target


def sample_jpeg(size: int) -> bytes:
    sys.path.insert(0, str(REPO / "src"))
    from PIL import Image

    from bonefrac.data.synth import render_radiograph

    gray, _ = render_radiograph(np.random.default_rng(0), size, fractures=1)
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run_level(
    url: str, image: bytes, clients: int, max_requests: int, max_seconds: float
) -> LevelResult:
    result = LevelResult(clients)
    issued = 0
    started = time.perf_counter()
    deadline = started + max_seconds

    async def client_loop(http: httpx.AsyncClient) -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            issued += 1
            t0 = time.perf_counter()
            try:
                response = await http.post(url, files={"file": ("xray.jpg", image, "image/jpeg")})
            except httpx.HTTPError as exc:
                result.errors += 1
                result.error_samples.append(f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code == 200:
                result.ok += 1
                result.latencies.append(time.perf_counter() - t0)
            elif response.status_code == 503 and response.json()["error"]["code"] == "queue_full":
                result.busy_503 += 1
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            else:
                result.errors += 1
                result.error_samples.append(f"{response.status_code} {response.text[:120]}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(*(client_loop(http) for _ in range(clients)))
    result.seconds = time.perf_counter() - started
    return result


def engine_baseline(model: Path, image: bytes, workers: int, count: int) -> float:
    """Images/s of load_image + FractureAnalyser.analyse (what the service runs: the detector, and the
    classifier when the card names one) called directly on `workers` threads (no HTTP): the ceiling the
    service is compared with, measured in this process on this machine at this moment."""
    from concurrent.futures import ThreadPoolExecutor

    sys.path.insert(0, str(REPO / "src"))
    from bonefrac.imaging.io import load_image
    from bonefrac.infer.analysis import FractureAnalyser

    analyser = FractureAnalyser.from_model(model, threads=1)
    analyser.analyse(load_image(image))
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _: analyser.analyse(load_image(image)), range(count)))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="ONNX model (default: random-weight YOLO11n at 640)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--requests", type=int, default=150, help="most requests per level")
    parser.add_argument("--seconds", type=float, default=30.0, help="most seconds per level")
    parser.add_argument("--image-size", type=int, default=1024, help="side of the synthetic JPEG")
    parser.add_argument("--append", action="store_true", help="append a row to bench/RESULTS.md")
    parser.add_argument("--note", default="machine shared with other helpers' jobs", help="note in the row")
    args = parser.parse_args()

    model = args.model or bench_model(REPO / ".data" / "bench-model")
    image = sample_jpeg(args.image_size)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO / "src"),
            "BONEFRAC_AUDIT_DB_URL": f"sqlite:///{tmp}/audit.db",
        }
        log_path = Path(tmp) / "server.log"
        with log_path.open("w") as log:
            t_start = time.perf_counter()
            server = subprocess.Popen(
                [sys.executable, "-m", "bonefrac", "serve", "--model", str(model), "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                ready_s = None
                while time.perf_counter() - t_start < 120:
                    try:
                        if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                            ready_s = time.perf_counter() - t_start
                            break
                    except httpx.TransportError:
                        pass
                    if server.poll() is not None:
                        raise SystemExit("server exited:\n" + log_path.read_text())
                    time.sleep(0.05)
                if ready_s is None:
                    raise SystemExit("server not ready in 120 s")
                levels = [
                    asyncio.run(run_level(base + "/v1/detect", image, n, args.requests, args.seconds))
                    for n in args.clients
                ]
                alive = httpx.get(base + "/healthz", timeout=5).status_code == 200
                rss = peak_rss_mb(server.pid)
                load = os.getloadavg()[0]
            finally:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(30)
                except subprocess.TimeoutExpired:
                    server.kill()

    baseline = engine_baseline(model, image, workers=2, count=20)
    print(
        f"model {model} ({model.stat().st_size / 1e6:.1f} MB), image {args.image_size}px JPEG {len(image)} B"
    )
    print(f"time to ready: {ready_s:.2f} s   peak RSS: {rss:.0f} MB   alive after load: {alive}")
    print(f"engine alone (2 threads, no HTTP): {baseline:.1f} images/s; load average during run {load:.1f}")
    print(
        f"{'clients':>7} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'ok':>5} {'503':>5} {'errors':>6}"
    )
    for r in levels:
        print(
            f"{r.clients:>7} {r.throughput:>7.1f} {r.pct(50):>8.0f} {r.pct(95):>8.0f} {r.pct(99):>8.0f} "
            f"{r.ok:>5} {r.busy_503:>5} {r.errors:>6}"
        )
        for sample in r.error_samples[:3]:
            print(f"        error: {sample}")
    if args.append:
        model_text = "random-weight YOLO11n @640" if args.model is None else model.name
        parts = [
            f"{r.clients} cl: {r.throughput:.1f} img/s, p50/p95/p99 {r.pct(50):.0f}/{r.pct(95):.0f}/"
            f"{r.pct(99):.0f} ms, {r.errors} err, {r.busy_503} x 503"
            for r in levels
        ]
        row = (
            f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {machine_label()} | bench_load.py | {model_text} | "
            f"{args.image_size}px JPEG, defaults (2 concurrent, queue 16); {args.note} | "
            f"{'; '.join(parts)}; ready {ready_s:.2f} s; peak RSS {rss:.0f} MB; "
            f"engine alone {baseline:.1f} img/s; "
            f"load avg {load:.1f} |\n"
        )
        append_rows(SECTION, HEADER, [row])
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
