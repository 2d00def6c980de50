"""Speed of the engines on one model: bare onnxruntime `session.run` against the engine end to end with
onnxruntime and OpenVINO, fp32 and int8, per input size and thread count.

Per (model, threads) the five calls run interleaved on the same image (medians; load from other processes
hits all alike):
  session.run onnxruntime fp32   the baseline: the session alone on a prepared tensor
  engine onnxruntime fp32/int8   Predictor.predict end to end (letterbox, run, decode, NMS, boxes back)
  engine openvino fp32/int8      the same with engine="openvino"
  engine openvino bf16           the fp32 model with engine="openvino-bf16" (bfloat16 where the CPU has it)
`speedup` is the baseline's time over the row's.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bonefrac.card.record import CARD_FILENAME
from bonefrac.export.benchmark import _interleaved, bench_image
from bonefrac.records import Radiograph

BASELINE = "session.run onnxruntime fp32"


@dataclass(frozen=True)
class EngineModel:
    """One model to time: its fp32 file, its int8 copy (or None) and a label for the table."""

    label: str
    fp32: Path
    int8: Path | None


@dataclass(frozen=True)
class EngineRow:
    """One measurement: milliseconds per image and the speed-up over the bare fp32 session.run."""

    model: str
    imgsz: int
    threads: int
    variant: str
    ms: float
    speedup: float


def _beside_card(model: EngineModel, folder: Path) -> Path | None:
    """The int8 file in `folder` with the fp32 model's card beside it, so the engine reads the same card."""
    if model.int8 is None:
        return None
    target = folder / model.int8.name
    shutil.copyfile(model.int8, target)
    card = model.fp32.parent / CARD_FILENAME
    if card.is_file():
        shutil.copyfile(card, folder / CARD_FILENAME)
    return target


# (row name, engine, model file): every variant the table compares, after the bare baseline
VARIANTS: tuple[tuple[str, str, str], ...] = (
    ("engine onnxruntime fp32", "onnxruntime", "fp32"),
    ("engine onnxruntime int8", "onnxruntime", "int8"),
    ("engine openvino fp32", "openvino", "fp32"),
    ("engine openvino bf16", "openvino-bf16", "fp32"),
    ("engine openvino int8", "openvino", "int8"),
)


def measure_engines(
    model: EngineModel,
    threads: int,
    repeats: int,
    image: Radiograph | None = None,
    engines: Sequence[str] = ("onnxruntime", "openvino", "openvino-bf16"),
) -> list[EngineRow]:
    """The rows of one model at one thread count (the variants whose engine is in `engines`)."""
    from bonefrac.infer.predictor import Predictor
    from bonefrac.infer.preprocess import is_grey_source, preprocess

    image = image or bench_image()
    with tempfile.TemporaryDirectory(prefix="bonefrac-engines-") as tmp:
        files = {"fp32": model.fp32, "int8": _beside_card(model, Path(tmp))}
        base = Predictor(model.fp32, threads=threads)
        tensor, _ = preprocess(image.pixels, base.input_size, grey=is_grey_source(image.metadata))
        calls: dict[str, Callable[[], object]] = {BASELINE: lambda: base.run_raw(tensor)}
        for name, engine, precision in VARIANTS:
            path = files[precision]
            if engine in engines and path is not None:
                calls[name] = partial(Predictor(path, threads=threads, engine=engine).predict, image)
        medians = _interleaved(calls, repeats)
    bare = medians[BASELINE]
    return [
        EngineRow(model.label, base.input_size, threads, name, seconds * 1000, bare / seconds)
        for name, seconds in medians.items()
    ]


def run_engine_bench(
    models: Sequence[EngineModel], threads: Sequence[int] = (1, 2), repeats: int = 20
) -> list[EngineRow]:
    """The whole table: every model at every thread count, on the same synthetic radiograph."""
    image = bench_image()
    return [row for model in models for n in threads for row in measure_engines(model, n, repeats, image)]
