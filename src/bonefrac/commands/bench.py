"""`bonefrac bench`: latency and throughput of the ONNX engine against ultralytics `.pt`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def bench(
    weights: Path | None = typer.Option(
        None, "--weights", help="YOLO .pt to time (default: YOLO11n from yolo11n.yaml, random weights)."
    ),
    sizes: list[int] = typer.Option([320, 640], "--imgsz", help="Input sizes (repeat the option)."),
    threads: list[int] = typer.Option([1, 2], "--threads", help="Thread counts (repeat the option)."),
    repeats: int = typer.Option(20, "--repeats", min=3, help="Timed runs per measurement."),
    pt: bool = typer.Option(True, "--pt/--no-pt", help="Also time ultralytics .pt predict."),
    numpy_preprocess: bool = typer.Option(
        False, "--numpy-preprocess", help="Add rows with the numpy letterbox (as without OpenCV)."
    ),
    engines: bool = typer.Option(
        False,
        "--engines",
        help="Instead: bare onnxruntime session.run against the engine end to end on onnxruntime and "
        "OpenVINO, fp32 and int8, on --model at its own size and on YOLO11n (random weights) at each "
        "--engine-imgsz.",
    ),
    model: Path | None = typer.Option(
        None, "--model", help="With --engines: the ONNX model (default: the shipped model)."
    ),
    int8: Path | None = typer.Option(
        None,
        "--int8",
        help="With --engines: its int8 copy (default: the one its card ships, else quantized now on "
        "synthetic images, for speed only).",
    ),
    engine_sizes: list[int] = typer.Option(
        [640], "--engine-imgsz", help="With --engines: other input sizes, on YOLO11n (needs the train extra)."
    ),
) -> None:
    """Latency and throughput: the ONNX engine vs ultralytics .pt, per input size and thread count."""
    from bonefrac.export.benchmark import run_bench

    if engines:
        _bench_engines(model, int8, engine_sizes, threads, repeats)
        return

    modes = ("opencv", "numpy") if numpy_preprocess else ("opencv",)
    rows, note = run_bench(weights, sizes, threads, repeats, with_pt=pt, preprocess=modes)
    console.print(bench_table(rows, note))


def bench_table(rows: list, note: str) -> Table:  # list[BenchRow]; typed loosely to keep imports lazy
    table = Table(title=f"bonefrac bench ({note})")
    for name in (
        "imgsz",
        "threads",
        "letterbox",
        "session.run ms",
        "engine ms",
        "engine/run",
        "ultralytics .pt ms",
        "engine speedup",
        "engine img/s",
    ):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(
            str(r.imgsz),
            str(r.threads),
            r.preprocess,
            f"{r.bare_ms:.1f}",
            f"{r.engine_ms:.1f}",
            f"{r.overhead_ratio:.3f}",
            "-" if r.pt_ms is None else f"{r.pt_ms:.1f}",
            "-" if r.speedup_vs_pt is None else f"{r.speedup_vs_pt:.2f}x",
            f"{r.engine_images_per_s:.1f}",
        )
    return table


def _bench_engines(
    model: Path | None, int8: Path | None, sizes: list[int], threads: list[int], repeats: int
) -> None:
    """`bench --engines`: the engines table over the model and YOLO11n exports at the other sizes."""
    import tempfile

    from bonefrac.export.engine_bench import EngineModel, run_engine_bench
    from bonefrac.infer.int8_choice import detector_file
    from bonefrac.infer.predictor import Predictor
    from bonefrac.paths import choose_model

    chosen = choose_model(model).path
    own_size = Predictor(chosen).input_size
    notes = []
    shipped = detector_file(chosen, prefer_int8=True)[0]
    if int8 is None and shipped != chosen:
        int8 = shipped
        notes.append(f"{chosen.name} with the int8 copy its card ships ({shipped.name})")
    with tempfile.TemporaryDirectory(prefix="bonefrac-bench-") as tmp:
        folder = Path(tmp)
        if int8 is None:
            int8 = _speed_only_int8(chosen, own_size, folder / "own")
            notes.append(f"{chosen.name} int8 quantized now on synthetic images (speed only)")
        models = [EngineModel(f"{chosen.name} ({own_size} px)", chosen, int8)]
        others = [size for size in sizes if size != own_size]
        if others:
            from bonefrac.export.benchmark import export_for_bench, random_yolo11n

            weights = random_yolo11n(folder)
            for size in others:
                fp32 = export_for_bench(weights, size, folder)
                quantized = _speed_only_int8(fp32, size, folder / f"q{size}")
                models.append(EngineModel(f"YOLO11n random ({size} px)", fp32, quantized))
            notes.append("YOLO11n from yolo11n.yaml with random weights at the other sizes (speed only)")
        rows = run_engine_bench(models, threads, repeats)
    console.print(engine_table(rows, "; ".join(notes) or "given models"))


def _speed_only_int8(fp32: Path, size: int, folder: Path) -> Path:
    """An int8 copy calibrated on synthetic images: right for timing, not for accuracy."""
    from bonefrac.card.record import INT8_FILENAME
    from bonefrac.export.quantize import quantize_int8
    from bonefrac.export.samples import synthetic_samples

    folder.mkdir(parents=True, exist_ok=True)
    return quantize_int8(fp32, folder / INT8_FILENAME, [i for _, i in synthetic_samples(8)], size)


def engine_table(rows: list, note: str) -> Table:  # list[EngineRow]; typed loosely to keep imports lazy
    table = Table(title=f"bonefrac bench --engines ({note})")
    for name in ("model", "imgsz", "threads", "variant", "ms", "speedup vs session.run fp32"):
        table.add_column(name, justify="right")
    for r in rows:
        table.add_row(r.model, str(r.imgsz), str(r.threads), r.variant, f"{r.ms:.1f}", f"{r.speedup:.2f}x")
    return table


def register(app: typer.Typer) -> None:
    """Add `bench` to the root app."""
    app.command("bench")(bench)
