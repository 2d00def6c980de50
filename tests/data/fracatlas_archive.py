"""A small synthetic archive with the FracAtlas release's layout, and a local HTTP server that serves it the
way figshare does (an API record with size and md5, a download URL that honours Range requests).

Imported by the tests as `fracatlas_archive` (pytest puts this folder on sys.path)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from bonefrac.data.synth import render_radiograph

# (image number, release split of a fractured image, or None for one without a fracture)
IMAGES: tuple[tuple[int, str | None], ...] = (
    (0, None),
    (19, "train"),
    (25, "train"),
    (3295, None),
    (3296, None),
    (3297, "test"),
    (3722, None),
    (3723, None),
    (3733, "valid"),
    (4376, "valid"),
    (4389, None),
)
EXPECTED_SPLIT = {
    "IMG0000000.jpg": "train",
    "IMG0000019.jpg": "train",
    "IMG0000025.jpg": "train",
    "IMG0003295.jpg": "train",
    "IMG0003296.jpg": "test",
    "IMG0003297.jpg": "test",
    "IMG0003722.jpg": "test",
    "IMG0003723.jpg": "val",
    "IMG0003733.jpg": "val",
    "IMG0004376.jpg": "val",
    "IMG0004389.jpg": "val",
}


def name(number: int) -> str:
    return f"IMG{number:07d}.jpg"


def build_release_zip(path: Path, size: int = 96) -> Path:
    """FracAtlas/images/{Fractured,Non_fractured}, Annotations/YOLO, Utilities/Fracture Split, dataset.csv:
    synthetic radiographs from the project's generator, with their boxes as YOLO labels."""
    rng = np.random.default_rng(7)
    splits: dict[str, list[str]] = {"train": [], "valid": [], "test": []}
    columns = ("hand", "leg", "hip", "shoulder", "mixed", "hardware", "multiscan", "fractured")
    rows = ["image_id," + ",".join((*columns, "fracture_count", "frontal", "lateral", "oblique"))]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("FracAtlas/", b"")
        for number, split in IMAGES:
            pixels, boxes = render_radiograph(rng, size, fractures=1 if split else 0)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
            folder = "Fractured" if split else "Non_fractured"
            archive.writestr(f"FracAtlas/images/{folder}/{name(number)}", buffer.getvalue())
            if split:
                label = "".join(f"0 {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n" for cx, cy, w, h in boxes)
                archive.writestr(f"FracAtlas/Annotations/YOLO/{name(number)[:-4]}.txt", label)
                splits[split].append(name(number))
            rows.append(f"{name(number)},0,1,0,0,0,0,0,{int(bool(split))},{int(bool(split))},1,0,0")
        for split, names in splits.items():
            csv_text = "image_id\n" + "".join(f"{n}\n" for n in names)
            archive.writestr(f"FracAtlas/Utilities/Fracture Split/{split}.csv", csv_text)
        archive.writestr("FracAtlas/dataset.csv", "\n".join(rows) + "\n")
    return path


@dataclass
class FakeFigshare:
    """What the local server was asked: the Range header of each download request."""

    base: str
    ranges: list[str | None] = field(default_factory=list)
    stop_after: int | None = None  # close each download after this many bytes (a dropped connection)


@contextmanager
def serve_figshare(archive: Path, *, md5: str | None = None) -> Iterator[FakeFigshare]:
    """A figshare-like server on 127.0.0.1: GET /v2/articles/22363012 and GET /files/FracAtlas.zip."""
    data = archive.read_bytes()
    record_md5 = md5 or hashlib.md5(data).hexdigest()
    state = FakeFigshare(base="")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/v2/articles/22363012":
                body = json.dumps(
                    {
                        "id": 22363012,
                        "files": [
                            {
                                "name": "FracAtlas.zip",
                                "size": len(data),
                                "computed_md5": record_md5,
                                "download_url": f"{state.base}/files/FracAtlas.zip",
                            }
                        ],
                    }
                ).encode()
                self._send(200, body, "application/json")
            elif self.path == "/files/FracAtlas.zip":
                wanted = self.headers.get("Range")
                state.ranges.append(wanted)
                start = int(wanted.split("=")[1].rstrip("-")) if wanted else 0
                body = data[start:]
                if state.stop_after is not None:
                    body = body[: state.stop_after]
                self.send_response(206 if wanted else 200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(data) - start))
                if wanted:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                self.wfile.write(body)
                self.close_connection = True
            else:
                self._send(404, b"{}", "application/json")

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
