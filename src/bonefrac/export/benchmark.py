"""Latency and throughput of the ONNX engine against ultralytics `.pt` predict, on the same image and threads.

Per (input size, threads) it measures, interleaved so that load from other processes hits all alike:
  bare    the onnxruntime session.run alone on a prepared tensor
  engine  Predictor.predict end to end (letterbox, session.run, decode, NMS, boxes back to the image)
  pt      ultralytics YOLO(.pt).predict on the same pixels, torch limited to the same threads
Medians are reported; throughput is images per second of `engine` over a set of varied images.
Without --weights a YOLO11n built from yolo11n.yaml with random weights is used (fine for speed).
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bonefrac.records import Radiograph

logger = logging.getLogger(__name__)

BENCH_IMAGE_SHAPE = (1280, 1024)  # (height, width): a typical radiograph is portrait and larger than 640


@dataclass(frozen=True)
class BenchRow:
    """One (size, threads) measurement, in milliseconds per image."""

    imgsz: int
    threads: int
    bare_ms: float
    engine_ms: float
    pt_ms: float | None
    engine_images_per_s: float
    preprocess: str  # "opencv" or "numpy"

    @property
    def overhead_ratio(self) -> float:
        return self.engine_ms / self.bare_ms

    @property
    def speedup_vs_pt(self) -> float | None:
        return None if self.pt_ms is None else self.pt_ms / self.engine_ms


def bench_image(seed: int = 0, shape: tuple[int, int] = BENCH_IMAGE_SHAPE) -> Radiograph:
    """A deterministic synthetic radiograph of the given (height, width), read as a grey PNG file would be."""
    import io

    from PIL import Image

    from bonefrac.data.synth import render_radiograph
    from bonefrac.imaging.io import load_image

    gray, _ = render_radiograph(np.random.default_rng(seed), max(shape), fractures=2)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(gray[: shape[0], : shape[1]])).save(buffer, format="PNG")
    return load_image(buffer.getvalue(), name="synthetic_radiograph.png")


def random_yolo11n(out_dir: Path) -> Path:
    """A YOLO11n .pt with random weights (built from yolo11n.yaml, one class), for speed measurements only."""
    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    import torch
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(0)
    model = YOLO("yolo11n.yaml")
    network = DetectionModel("yolo11n.yaml", nc=1, verbose=False)  # one class, like a fracture model
    network.names = {0: "fractured"}
    # ultralytics leaves Model.model unannotated; mypy infers `str | None` from its __init__
    model.model = network  # type: ignore[assignment]
    path = out_dir / "yolo11n_random.pt"
    model.save(str(path))
    return path


def export_for_bench(weights: Path, imgsz: int, out_dir: Path) -> Path:
    """Plain ultralytics ONNX export (no parity check: bench measures speed only)."""
    import shutil

    from bonefrac.ultralytics_env import prepare_ultralytics

    prepare_ultralytics()
    from ultralytics import YOLO

    staged = out_dir / f"w{imgsz}" / weights.name
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, staged)
    exported = Path(YOLO(str(staged)).export(format="onnx", imgsz=imgsz, simplify=True, dynamic=False))
    target = out_dir / f"model_{imgsz}.onnx"
    shutil.move(exported, target)
    return target


def _interleaved(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds per call, running the calls in turn `repeats` times after a warm-up."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def measure(
    onnx_path: Path,
    pt_model: Any | None,
    image: Radiograph,
    imgsz: int,
    threads: int,
    repeats: int,
    throughput_images: Sequence[Radiograph],
    use_cv2: bool = True,
) -> BenchRow:
    """One row of the table; `pt_model` is a loaded ultralytics YOLO or None to skip it."""
    from bonefrac.infer.predictor import Predictor
    from bonefrac.infer.preprocess import _cv2, letterbox, to_input_tensor

    predictor = Predictor(onnx_path, threads=threads, use_cv2=use_cv2)
    tensor = to_input_tensor([letterbox(image.pixels, imgsz)[0]])
    calls: dict[str, Callable[[], Any]] = {
        "bare": lambda: predictor.run_raw(tensor),
        "engine": lambda: predictor.predict(image),
    }
    if pt_model is not None:
        import torch

        torch.set_num_threads(threads)
        bgr = np.ascontiguousarray(image.pixels[:, :, ::-1])
        calls["pt"] = lambda: pt_model.predict(bgr, imgsz=imgsz, device="cpu", verbose=False)
    medians = _interleaved(calls, repeats)
    start = time.perf_counter()
    for img in throughput_images:
        predictor.predict(img)
    per_s = len(throughput_images) / (time.perf_counter() - start)
    return BenchRow(
        imgsz=imgsz,
        threads=threads,
        bare_ms=medians["bare"] * 1000,
        engine_ms=medians["engine"] * 1000,
        pt_ms=medians["pt"] * 1000 if "pt" in medians else None,
        engine_images_per_s=per_s,
        preprocess="opencv" if use_cv2 and _cv2() is not None else "numpy",
    )


def run_bench(
    weights: Path | None = None,
    sizes: Sequence[int] = (320, 640),
    threads: Sequence[int] = (1, 2),
    repeats: int = 20,
    with_pt: bool = True,
    preprocess: Sequence[str] = ("opencv",),
) -> tuple[list[BenchRow], str]:
    """The whole table and a note on the model used."""
    from bonefrac.ultralytics_env import prepare_ultralytics

    image = bench_image()
    throughput_images = [
        bench_image(seed, shape) for seed, shape in enumerate([(1280, 1024), (454, 373)] * 4)
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bonefrac-bench-") as tmp:
        tmp_dir = Path(tmp)
        note = f"weights {weights}" if weights else "YOLO11n from yolo11n.yaml, random weights (speed only)"
        pt_path = Path(weights) if weights else random_yolo11n(tmp_dir)
        pt_model = None
        if with_pt:
            prepare_ultralytics()
            from ultralytics import YOLO

            pt_model = YOLO(str(pt_path))
        for size in sizes:
            onnx_path = export_for_bench(pt_path, size, tmp_dir)
            for n in threads:
                for mode in preprocess:
                    rows.append(
                        measure(
                            onnx_path,
                            pt_model if mode == preprocess[0] else None,
                            image,
                            size,
                            n,
                            repeats,
                            throughput_images,
                            use_cv2=mode == "opencv",
                        )
                    )
                    logger.debug("bench %s", rows[-1])
    return rows, note
