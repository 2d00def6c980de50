"""The service under attack: each probe of docs/serve.md's table against a real `bonefrac serve` process (the
shipped model, loopback, a free port), over raw sockets where a well-behaved client library would not go."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from live_server import (
    PROBE_KEY,
    SHIPPED_MODEL,
    LiveServer,
    raw_exchange,
    read_answer,
    server_env,
    start_server,
    status_of,
)
from PIL import Image

pytestmark = pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="needs the shipped model")
KEY = {"X-API-Key": PROBE_KEY}
PATIENT_FILE_NAME = "DOE_JOHN_19700101_MRN123456.jpg"


# images --------------------------------------------------------------------------------------------------
def radiograph_jpeg(size: tuple[int, int] = (600, 800), quality: int = 90) -> bytes:
    """A JPEG with structure in every row (so a missing part shows)."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    pixels = (128 + 60 * np.sin(x / 17.0) * np.cos(y / 23.0)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def noise_jpeg(size: tuple[int, int]) -> bytes:
    """A JPEG of grey noise: megabytes for a modest pixel count."""
    pixels = np.random.default_rng(0).integers(0, 255, (size[1], size[0]), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is rewritten to claim width x height."""
    data = bytearray(radiograph_jpeg((64, 64)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 7] = height.to_bytes(2, "big")
    data[sof + 7 : sof + 9] = width.to_bytes(2, "big")
    return bytes(data)


def cut_jpeg(data: bytes, keep: float = 0.4) -> bytes:
    """The first `keep` of a JPEG with its end-of-image marker added back (the decoder greys the rest)."""
    return data[: int(len(data) * keep)] + b"\xff\xd9"


def multipart(*parts: tuple[str, str | None, bytes], boundary: str = "probeboundary") -> tuple[bytes, str]:
    """A multipart/form-data body of (field, file name or None, bytes) parts, and its Content-Type."""
    chunks = []
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        chunks.append(
            f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
        )
    return b"".join(chunks) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_head(length: int, content_type: str, key: bool = True, path: str = "/v1/detect") -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: probe",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
    ]
    if key:
        lines.append(f"X-API-Key: {PROBE_KEY}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def rss(server: LiveServer) -> int:
    return int(psutil.Process(server.process.pid).memory_info().rss)


# servers -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory):
    """The shipped model behind API keys, with short head and body timeouts."""
    server = start_server(
        tmp_path_factory.mktemp("guarded"),
        BONEFRAC_API_KEYS=f"probe:{PROBE_KEY}",
        BONEFRAC_HEADER_TIMEOUT_S="2",
        BONEFRAC_BODY_TIMEOUT_S="2",
        BONEFRAC_REFUSAL_DELAY_S="0.2",
    )
    yield server
    server.stop()


# request heads ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * 65536 + b"\r\n",
        b"".join(b"X-H%d: v\r\n" % i for i in range(5000)),
        b"X-Big: " + b"a" * 1_048_576 + b"\r\n",
    ],
    ids=["one 64 KB header", "5000 headers", "one 1 MB header"],
)
def test_attack_oversized_request_head_is_refused(guarded, headers):
    answer = raw_exchange(guarded, b"GET /healthz HTTP/1.1\r\nHost: probe\r\n" + headers + b"\r\n")
    assert status_of(answer) == 431, answer[:200]
    assert guarded.alive()


def test_attack_unfinished_huge_heads_do_not_grow_memory(guarded):
    before = rss(guarded)
    sockets = [guarded.connect() for _ in range(20)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nX-Big: ")
            try:
                for _ in range(64):  # 8 MB each, never finished
                    sock.sendall(b"a" * 131072)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server closed it: what it should do
        time.sleep(0.5)
        grown = rss(guarded) - before
    finally:
        for sock in sockets:
            sock.close()
    assert grown < 40_000_000, f"RSS grew {grown / 1e6:.0f} MB"
    assert guarded.alive()


# slow clients ----------------------------------------------------------------------------------------------
def test_attack_slow_request_head_is_cut_after_the_header_timeout(guarded):
    started = time.monotonic()
    with guarded.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nX-Slow: ")
        closed_after = None
        while time.monotonic() - started < 10:
            try:
                sock.sendall(b"a")  # one byte every 0.25 s
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            sock.settimeout(0.25)
            try:
                sock.recv(4096)  # returns only once the server answers 408 or closes
            except TimeoutError:
                continue
            except ConnectionResetError:
                pass
            closed_after = time.monotonic() - started
            break
    assert closed_after is not None and closed_after < 2 + 2, closed_after


def test_attack_body_shorter_than_declared_is_cut_after_the_body_timeout(guarded):
    body, content_type = multipart(("file", "a.jpg", radiograph_jpeg()))
    started = time.monotonic()
    with guarded.connect() as sock:
        sock.sendall(post_head(len(body) + 5000, content_type) + body)  # 5000 bytes never come
        answer = read_answer(sock, wait=8)
    assert status_of(answer) == 408 and b"body_timeout" in answer, answer[:300]
    assert time.monotonic() - started < 2 + 2


# expensive and broken images ---------------------------------------------------------------------------
def test_attack_pixel_bomb_jpeg_is_refused_fast(guarded):
    bomb = jpeg_claiming(7000, 7000)
    assert len(bomb) < 25_000
    server = psutil.Process(guarded.process.pid)
    cpu_before, started = sum(server.cpu_times()[:2]), time.monotonic()
    answer = httpx.post(guarded.base + "/v1/detect", files={"file": bomb}, headers=KEY, timeout=30)
    elapsed, cpu = time.monotonic() - started, sum(server.cpu_times()[:2]) - cpu_before
    assert answer.status_code == 422, answer.text
    assert "BONEFRAC_MAX_IMAGE_PIXELS" in answer.json()["error"]["message"]
    assert cpu < 0.3 and elapsed < 0.2 + 1.0, (cpu, elapsed)  # refused from the header, then the delay


def test_attack_pixel_bomb_is_refused_from_its_header_before_the_rest_of_the_body(guarded):
    bomb = jpeg_claiming(7000, 7000) + b"\x00" * 19_000_000  # what follows the header never matters
    body, content_type = multipart(("file", "a.jpg", bomb))
    with guarded.connect() as sock:
        sock.sendall(post_head(len(body), content_type) + body[:100_000])  # the rest never comes
        answer = read_answer(sock, wait=3)
    assert status_of(answer) == 422 and b"BONEFRAC_MAX_IMAGE_PIXELS" in answer, answer[:300]


def test_attack_truncated_jpeg_with_its_end_marker_is_refused(guarded):
    intact = radiograph_jpeg()
    assert (
        httpx.post(guarded.base + "/v1/detect", files={"file": intact}, headers=KEY, timeout=30).status_code
        == 200
    )
    answer = httpx.post(
        guarded.base + "/v1/detect", files={"file": cut_jpeg(intact)}, headers=KEY, timeout=30
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_image"
    assert "corrupt or incomplete" in answer.json()["error"]["message"]


# authentication ----------------------------------------------------------------------------------------
def test_attack_missing_key_is_refused_before_the_body_and_counted_not_audited(guarded):
    rows_before = len(guarded.audit_rows())
    with guarded.connect() as sock:  # declares 19 MB and sends none of it
        sock.sendall(post_head(19_000_000, "multipart/form-data; boundary=x", key=False))
        answer = read_answer(sock, wait=3)
    assert status_of(answer) == 401 and b"unauthorized" in answer, answer[:300]
    for _ in range(3):
        refused = httpx.post(guarded.base + "/v1/detect", files={"file": b"x" * 1000}, timeout=10)
        assert refused.status_code == 401
    metrics = httpx.get(guarded.base + "/metrics", timeout=10).text
    counted = re.search(r'bonefrac_rejections_total\{reason="unauthorized"\} (\d+)', metrics)
    assert counted is not None and float(counted.group(1)) >= 4
    assert len(guarded.audit_rows()) == rows_before


# request ids, patient data -----------------------------------------------------------------------------
def test_attack_client_request_ids_never_collide_in_the_audit_log(guarded):
    sent = {"X-Request-ID": "same-id-twice", **KEY}
    answers = [
        httpx.post(guarded.base + "/v1/detect", files={"file": radiograph_jpeg()}, headers=sent, timeout=30)
        for _ in range(2)
    ]
    ids = [a.headers["X-Request-ID"] for a in answers]
    assert ids[0] != ids[1] and all(a.json()["request_id"] == i for a, i in zip(answers, ids, strict=True))
    rows = {row["request_id"]: row for row in guarded.audit_rows()}
    assert [rows[i]["client_request_id"] for i in ids] == ["same-id-twice", "same-id-twice"]


def test_attack_file_names_and_dicom_tags_are_never_logged_or_stored(guarded, samples):
    from pydicom import dcmread

    dicom = dcmread(io.BytesIO(samples.dicom()))
    dicom.PatientName = "DOE^JOHN"
    dicom.PatientID = "MRN123456"
    buffer = io.BytesIO()
    dicom.save_as(buffer, enforce_file_format=True)
    png = samples.png()
    for content in (png, buffer.getvalue()):
        answer = httpx.post(
            guarded.base + "/v1/detect", files={"file": (PATIENT_FILE_NAME, content)}, headers=KEY, timeout=30
        )
        assert answer.status_code == 200, answer.text
    stored = b"".join(path.read_bytes() for path in guarded.tmp.glob("audit.db*"))
    for secret in ("DOE_JOHN", "DOE^JOHN", "MRN123456"):
        assert secret not in guarded.log_text()
        assert secret.encode() not in stored


def test_attack_uploads_are_never_spooled_to_disk(guarded):
    image = noise_jpeg((1500, 1500))
    assert len(image) > 1_500_000
    body, content_type = multipart(("file", "a.jpg", image))
    tmpdir = str(guarded.tmp / "tmpdir")
    with guarded.connect(timeout=30) as sock:
        sock.sendall(post_head(len(body), content_type) + body[:1_400_000])
        time.sleep(0.5)
        open_files = [
            os.readlink(f"/proc/{guarded.process.pid}/fd/{fd}")
            for fd in os.listdir(f"/proc/{guarded.process.pid}/fd")
        ]
        sock.sendall(body[1_400_000:])
        answer = read_answer(sock, wait=20)
    assert status_of(answer) == 200, answer[:300]
    assert not [name for name in open_files if name.startswith(tmpdir)], open_files


def test_attack_onnxruntime_telemetry_is_off(guarded):
    home = guarded.tmp / "home"
    assert not any(home.rglob("*onnxruntime*")), sorted(str(p) for p in home.rglob("*"))


def test_attack_start_up_error_never_prints_an_api_key(tmp_path):
    secret = "tiny-k1"
    result = subprocess.run(
        [sys.executable, "-m", "bonefrac", "serve", "--model", str(SHIPPED_MODEL)],
        env=server_env(tmp_path, BONEFRAC_API_KEYS=f"ward:{secret}"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "api_keys" in result.stderr, result.stderr
    assert secret not in result.stdout + result.stderr


# forms, probes, docs -----------------------------------------------------------------------------------
def test_attack_two_file_parts_and_broken_multipart_are_422_and_head_healthz_is_200(guarded):
    body, content_type = multipart(("file", "a.jpg", radiograph_jpeg()), ("file", "b.jpg", radiograph_jpeg()))
    doubled = httpx.post(
        guarded.base + "/v1/detect", content=body, headers={"Content-Type": content_type, **KEY}, timeout=30
    )
    assert doubled.status_code == 422 and "more than one 'file'" in doubled.json()["error"]["message"]
    broken = httpx.post(
        guarded.base + "/v1/detect",
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers={"Content-Type": "multipart/form-data; boundary=xyz", **KEY},
        timeout=30,
    )
    assert broken.status_code == 422 and broken.json()["error"]["code"] == "invalid_request"
    assert httpx.head(guarded.base + "/healthz", timeout=10).status_code == 200


def test_attack_docs_load_without_any_other_host(guarded):
    page = httpx.get(guarded.base + "/docs", timeout=10)
    assert page.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert assets and not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
    for asset in assets:
        fetched = httpx.get(guarded.base + asset, timeout=10)
        assert fetched.status_code == 200 and fetched.content, asset


def test_attack_openapi_declares_the_key_only_when_keys_are_configured(guarded, tmp_path):
    with_keys = httpx.get(guarded.base + "/openapi.json", timeout=10).json()
    assert with_keys["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    open_server = start_server(tmp_path)
    try:
        without = httpx.get(open_server.base + "/openapi.json", timeout=10).json()
    finally:
        open_server.stop()
    assert "securitySchemes" not in without.get("components", {})
    assert "X-API-Key" not in json.dumps(without) and '"401"' not in json.dumps(without)


# failures inside the service ---------------------------------------------------------------------------
def test_attack_locked_audit_database_fails_closed_without_queueing(tmp_path):
    server = start_server(tmp_path, BONEFRAC_AUDIT_TIMEOUT_S="1")
    try:
        assert (
            httpx.post(server.base + "/v1/detect", files={"file": radiograph_jpeg()}, timeout=30).status_code
            == 200
        )
        lock = sqlite3.connect(tmp_path / "audit.db", timeout=1)
        lock.execute("BEGIN EXCLUSIVE")
        try:

            def attempt(_: int) -> tuple[int, float, httpx.Response]:
                started = time.monotonic()
                answer = httpx.post(server.base + "/v1/detect", files={"file": radiograph_jpeg()}, timeout=60)
                return answer.status_code, time.monotonic() - started, answer

            with ThreadPoolExecutor(4) as pool:
                results = list(pool.map(attempt, range(4)))
        finally:
            lock.rollback()
            lock.close()
        for status, seconds, answer in results:
            assert status == 503 and answer.json()["error"]["code"] == "audit_unavailable", answer.text
            assert answer.headers["X-Request-ID"] and seconds < 4, seconds
        after = httpx.post(server.base + "/v1/detect", files={"file": radiograph_jpeg()}, timeout=30)
        assert after.status_code == 200
        audited = {row["request_id"] for row in server.audit_rows()}
        assert after.headers["X-Request-ID"] in audited
        assert not audited & {answer.headers["X-Request-ID"] for _, _, answer in results}
    finally:
        server.stop()


def test_attack_unexpected_error_answers_500_with_request_id_and_audit_row(tmp_path, samples):
    script = Path(__file__).resolve().parent / "faulty_server.py"
    server = start_server(tmp_path, command=[sys.executable, str(script)])
    try:
        answer = httpx.post(server.base + "/v1/detect", files={"file": samples.png()}, timeout=30)
        assert answer.status_code == 500
        request_id = answer.headers["X-Request-ID"]
        assert answer.json() == {
            "error": {"code": "internal_error", "message": "unexpected server error; see the logs"},
            "request_id": request_id,
        }
        rows = [row for row in server.audit_rows() if row["request_id"] == request_id]
        assert [(row["status_code"], row["outcome"]) for row in rows] == [(500, "internal_error")]
        assert server.alive()
    finally:
        server.stop()


@pytest.mark.slow
def test_attack_sigterm_drops_the_queued_work_of_clients_that_left(tmp_path):
    grace = 2
    server = start_server(
        tmp_path,
        BONEFRAC_SHUTDOWN_GRACE_S=str(grace),
        BONEFRAC_MAX_CONCURRENT="1",
        BONEFRAC_QUEUE_LENGTH="30",
        BONEFRAC_LARGE_IMAGE_PIXELS="50000000",
    )
    body, content_type = multipart(("file", "a.jpg", radiograph_jpeg((4800, 4800), quality=95)))
    try:
        clients = []
        for _ in range(24):  # each about a third of a second of work, all queued behind one slot
            sock = server.connect()
            sock.sendall(post_head(len(body), content_type, key=False) + body)
            clients.append(sock)
        time.sleep(1.5)
        for sock in clients:  # the clients give up while their work waits
            sock.close()
        time.sleep(0.3)
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(60)
        stopped_after = time.monotonic() - started
    finally:
        server.stop()
    assert stopped_after < grace + 2.5, f"stopped {stopped_after:.1f} s after SIGTERM"


@pytest.mark.slow
def test_attack_forty_large_uploads_keep_memory_bounded(tmp_path):
    server = start_server(tmp_path)
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (2520, 2520, 3), dtype=np.uint8)).save(
        buffer, format="PNG", compress_level=0
    )
    image = buffer.getvalue()
    assert 18_500_000 < len(image) < 20_000_000
    peak = rss(server)
    statuses: list[int | str] = []
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, rss(server))
            time.sleep(0.02)

    def upload(_: int) -> None:
        try:
            answer = httpx.post(server.base + "/v1/detect", files={"file": image}, timeout=120)
            statuses.append(answer.status_code)
        except httpx.TransportError as exc:  # refused while still sending: the connection was closed
            statuses.append(type(exc).__name__)

    baseline = rss(server)
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(40) as pool:
            list(pool.map(upload, range(40)))
    finally:
        stop.set()
        sampler.join()
        time.sleep(0.5)
        after = rss(server)
        server.stop()
    assert statuses.count(200) >= 2, statuses
    assert all(s in (200, 503) or isinstance(s, str) for s in statuses), statuses
    assert peak < 600_000_000, f"peak RSS {peak / 1e6:.0f} MB"
    assert after < baseline + 100_000_000, f"RSS {after / 1e6:.0f} MB after the load"  # given back
