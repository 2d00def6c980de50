"""Fairness under expensive uploads: do normal clients keep their throughput while others send images that
are cheap to send and expensive to decode?

One `bonefrac serve` process (the shipped model by default) on 127.0.0.1, one session, rounds of phases of
equal length: normal clients alone, normal clients beside 16 attackers sending a 22 KB JPEG whose header
claims 7000 x 7000 pixels (refused from the header by BONEFRAC_MAX_IMAGE_PIXELS), normal clients beside 16
attackers sending real 4800 x 4800 JPEGs (23 MP: allowed, analysed in the large-image lane); one more alone
phase at the end. Interleaving spreads drift in the machine's load over every kind of phase; the unloaded
figure is the mean of the alone phases. Normal clients
post a 1500 x 2000 synthetic radiograph in a closed loop and honour Retry-After; attackers never wait.
Reports, per phase, the normal clients' success rate, throughput, p95 latency, and their throughput as a
share of the unloaded one. Target: >= 80 % under each attack.

    PYTHONPATH=src python bench/bench_fairness.py [--model m.onnx] [--rounds 3] [--seconds 10] [--append]
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
import psutil
from _results import RESULTS, append_rows, machine_label
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "deploy" / "model" / "model.onnx"
SECTION = "## Fairness under expensive uploads (`bench/bench_fairness.py --append`)"
HEADER = (
    "| date (UTC) | machine | model | phase | normal success | normal images/s | share of unloaded "
    "| normal p95 ms | server CPU s/s | attacker answers |\n|---|---|---|---|---|---|---|---|---|---|\n"
)
INTRO = (
    "Normal clients (closed loop, 1500 x 2000 JPEG, honour Retry-After) alone and beside 16 attackers "
    "(raw sockets, never waiting), in one server session, phases interleaved over rounds and one last "
    "alone phase; the unloaded figure is the mean of the alone phases; server CPU s/s is the service "
    "process's CPU time per second of the phase. Target: normal clients keep >= 80 % of their unloaded "
    "throughput. The load average in the machine column was taken at the end of the run (other jobs on "
    "the shared cores move every figure)."
)


def radiograph_jpeg(width: int, height: int, quality: int = 90) -> bytes:
    """A synthetic radiograph-like JPEG (smooth bands and texture), never a data-set image."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(0)
    pixels = 110 + 50 * np.sin(x / 37.0) * np.cos(y / 53.0) + rng.normal(0, 6, (height, width))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG (about 22 KB) whose frame header is rewritten to claim width x height."""
    data = bytearray(radiograph_jpeg(256, 256, quality=95))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    data[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


@dataclass
class Tally:
    ok: int = 0
    attempts: int = 0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        self.ok += other.ok
        self.attempts += other.attempts
        self.latencies += other.latencies
        for status, count in other.statuses.items():
            self.statuses[status] = self.statuses.get(status, 0) + count

    def note(self, status: str) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def p95_ms(self) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(0.95 * (len(data) - 1))))] * 1000


async def normal_client(
    client: httpx.AsyncClient, url: str, image: bytes, until: float, tally: Tally
) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        tally.attempts += 1
        try:
            answer = await client.post(url, files={"file": ("x.jpg", image)})
        except httpx.TransportError as exc:
            tally.note(type(exc).__name__)
            continue
        tally.note(str(answer.status_code))
        if answer.status_code == 200:
            tally.ok += 1
            tally.latencies.append(time.monotonic() - started)
        elif answer.status_code == 503:
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))


def raw_request(port: int, image: bytes) -> bytes:
    """The whole HTTP request an attacker repeats, built once (attackers spend no CPU on the bench's cores
    beyond writing it: their cost to the machine would be someone else's in a real attack)."""
    boundary = "benchboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n\r\n'.encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n"
    )
    return head.encode() + body


async def attacker(port: int, request: bytes, until: float, tally: Tally) -> None:
    """Repeats `request` on a kept-alive connection, never waiting between answers."""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.monotonic() < until:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            tally.attempts += 1
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12].decode()
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            tally.note(status)
            if b"connection: close" in head.lower():
                writer.close()
                writer = None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            tally.note(type(exc).__name__)
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


async def phase(
    port: int, normal_image: bytes, clients: int, attack: bytes | None, seconds: float
) -> tuple[Tally, Tally]:
    url = f"http://127.0.0.1:{port}/v1/detect"
    until = time.monotonic() + seconds
    normal, attacks = Tally(), Tally()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        tasks = [normal_client(client, url, normal_image, until, normal) for _ in range(clients)]
        if attack is not None:
            request = raw_request(port, attack)
            tasks += [attacker(port, request, until, attacks) for _ in range(16)]
        await asyncio.gather(*tasks)
    return normal, attacks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(model: Path, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BONEFRAC_")}
    env.update(
        {
            "PYTHONPATH": str(REPO / "src"),
            "BONEFRAC_AUDIT_DB_URL": f"sqlite:///{workdir / 'audit.db'}",
            "BONEFRAC_LOG_JSON": "true",
        }
    )
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "bonefrac", "serve", "--model", str(model), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not get ready:\n" + (workdir / "server.log").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (alone, pixel bombs, large images)")
    parser.add_argument("--clients", type=int, default=4, help="normal clients")
    parser.add_argument("--append", action="store_true", help=f"add the rows to {RESULTS.name}")
    args = parser.parse_args()

    normal_image = radiograph_jpeg(1500, 2000)
    bomb = jpeg_claiming(7000, 7000)
    large = radiograph_jpeg(4800, 4800, quality=85)
    kinds = [
        ("alone", None),
        (f"16 x {len(bomb) // 1000} KB JPEG claiming 7000x7000", bomb),
        (f"16 x 4800x4800 JPEG ({len(large) / 1e6:.1f} MB, large lane)", large),
    ]
    schedule = [kind for _ in range(args.rounds) for kind in kinds] + [kinds[0]]
    totals: dict[str, tuple[Tally, Tally]] = {name: (Tally(), Tally()) for name, _ in kinds}
    cpu: dict[str, float] = {name: 0.0 for name, _ in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(args.model, port, Path(tmp))
        try:
            process = psutil.Process(server.pid)
            for name, attack in schedule:
                cpu_before = sum(process.cpu_times()[:2])
                normal, attacks = asyncio.run(phase(port, normal_image, args.clients, attack, args.seconds))
                cpu[name] += sum(process.cpu_times()[:2]) - cpu_before
                total_normal, total_attacks = totals[name]
                total_normal.add(normal)
                total_attacks.add(attacks)
                print(
                    f"{name}: normal {normal.ok}/{normal.attempts} ok, attackers {attacks.statuses}",
                    flush=True,
                )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    runs = {name: sum(1 for n, _ in schedule if n == name) for name, _ in kinds}
    unloaded = totals["alone"][0].ok / (runs["alone"] * args.seconds)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    machine = machine_label()
    rows = []
    print(
        f"\nmodel {args.model.name}, {args.clients} normal clients, {args.rounds} rounds of "
        f"{args.seconds:g} s phases, {machine}"
    )
    print(f"{'phase':58} {'success':>8} {'img/s':>7} {'share':>7} {'p95 ms':>8} {'CPU s/s':>7}  attackers")
    for name, _ in kinds:
        normal, attacks = totals[name]
        throughput = normal.ok / (runs[name] * args.seconds)
        success = normal.ok / normal.attempts if normal.attempts else float("nan")
        share = throughput / unloaded if unloaded else float("nan")
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(attacks.statuses.items())) or "-"
        load = cpu[name] / (runs[name] * args.seconds)
        p95 = normal.p95_ms()
        print(f"{name:58} {success:8.1%} {throughput:7.2f} {share:7.1%} {p95:8.0f} {load:7.2f}  {answers}")
        rows.append(
            f"| {stamp} | {machine} | {args.model.name} | {name} ({runs[name]} x {args.seconds:g} s) | "
            f"{success:.1%} | {throughput:.2f} | {share:.0%} | {p95:.0f} | {load:.2f} | {answers} |"
        )
    if args.append:
        append_rows(SECTION, HEADER, rows, intro=INTRO)
        print(f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
