"""`bonefrac predict --cluster ray[://ADDRESS]`: the same analysis on a Ray cluster, with Ray Data.

    run = predict_on_ray(collect_sources(["archive/", "s3://bucket/wrist/"]), RayJob(model, Path("scored")))
    run.done, run.skipped, run.failed, run.images_per_s

The inputs stream through `map_batches` to a pool of actors, each holding one `FractureAnalyser` (loaded
once); results go to `OUT/results/*.parquet`, one row per image: the per-image document of `bonefrac predict`
as JSON (`result_json`, the public schema) beside flat columns for queries; annotated PNGs in `OUT/images/`.
A rerun skips every image already in the results (done or failed), so an interrupted run resumes where it
stopped; a bad file becomes a `failed` row with the reason and the run goes on.

Sources are local files, folders and globs (`batch.collect_inputs`) and `s3://BUCKET/PREFIX` URIs of an
S3-compatible object store (`object_store`): the driver lists the prefix, each actor reads the bytes of its
own objects, and the rows name the object's URI.

`cluster` "ray" starts a Ray cluster on this machine (loopback only, usage statistics off); "ray://HOST:PORT"
joins an existing one through Ray Client. The workers read the input paths and write the output folder
themselves, so on a remote cluster both must be on storage every node sees (and the nodes need credentials
for the object store), and bonefrac must be installed on the nodes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from bonefrac.errors import BonefracError, ConfigError
from bonefrac.infer.batch import (
    InputFile,
    analyse_bytes,
    analyse_file,
    annotated,
    collect_inputs,
    result_document,
    unique_stems,
)
from bonefrac.infer.engines import DEFAULT_ENGINE
from bonefrac.infer.object_store import ObjectInput, ObjectStore, is_object_uri, list_images, read_object

if TYPE_CHECKING:
    from bonefrac.infer.analysis import ImageFinding
    from bonefrac.infer.result_schema import ImageResult
    from bonefrac.records import Radiograph

logger = logging.getLogger(__name__)

RESULTS_FOLDER = "results"
IMAGES_FOLDER = "images"
INCOMPLETE_SUFFIX = ".incomplete"
LOCAL_CLUSTER = "ray"
CLIENT_PREFIX = "ray://"
# the Parquet columns, one row per image; result_json holds the whole public per-image document
COLUMNS: tuple[str, ...] = (
    "file_name",
    "output_stem",
    "status",
    "error",
    "call",
    "score",
    "fracture_probability",
    "detections",
    "max_confidence",
    "sha256",
    "image_path",
    "result_json",
)


class RaySource(Protocol):
    """One input of a Ray run: the name its row carries (a path or an s3:// URI) and its output stem."""

    @property
    def source(self) -> str: ...

    @property
    def output_stem(self) -> str: ...


@dataclass(frozen=True)
class RayJob:
    """How to run: the model and engine, the output folder, the pool of actors and the analysis options."""

    model_path: Path
    out: Path
    cluster: str = LOCAL_CLUSTER
    workers: int = 1
    threads: int = 1  # runtime threads per actor (and the CPUs each actor reserves)
    engine: str = DEFAULT_ENGINE
    conf: float | None = None
    iou: float = 0.7
    save_images: bool = True
    batch_size: int = 8
    local_cpus: int | None = None  # CPUs of the local cluster (None: workers x threads + 1 for the writer)
    # where s3:// sources are served; read from this process's AWS_* variables when the job is made
    object_store: ObjectStore = field(default_factory=ObjectStore.from_environment)


@dataclass
class RayRun:
    """What one run did: rows written now, images skipped as already in the results, time and failures."""

    total: int
    skipped: int
    done: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) of this run's failures
    startup_s: float = 0.0  # starting or joining the cluster
    seconds: float = 0.0  # the analysis itself, from the first actor's start to the last row written

    @property
    def images_per_s(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


def collect_sources(arguments: Sequence[str | Path], store: ObjectStore | None = None) -> list[RaySource]:
    """The local files, folders and globs (as the plain command collects them), then the image objects below
    each s3:// URI; each once, with output stems unique over all of them."""
    store = store or ObjectStore.from_environment()
    local = [argument for argument in arguments if not is_object_uri(argument)]
    names: list[Path | str] = [item.path for item in collect_inputs(local)] if local else []
    for argument in arguments:
        if is_object_uri(argument):
            names.extend(list_images(str(argument), store))
    unique = list(dict.fromkeys(names))
    stems = unique_stems(PurePosixPath(name) if isinstance(name, str) else name for name in unique)
    return [
        ObjectInput(name, stem) if isinstance(name, str) else InputFile(name, stem)
        for name, stem in zip(unique, stems, strict=True)
    ]


def parse_cluster(cluster: str) -> str | None:
    """None for a local cluster ("ray"), else the Ray Client address ("ray://HOST:PORT"); else ConfigError."""
    if cluster == LOCAL_CLUSTER:
        return None
    if cluster.startswith(CLIENT_PREFIX) and len(cluster) > len(CLIENT_PREFIX):
        return cluster
    raise ConfigError(
        f"--cluster takes 'ray' (a local Ray cluster) or 'ray://HOST:PORT' (an existing one), got {cluster!r}"
    )


class ImageAnalyser:
    """The Ray Data actor: one analyser, loaded once, applied to batches of (file_name, output_stem) rows."""

    def __init__(self, job: RayJob) -> None:
        from bonefrac.infer.analysis import FractureAnalyser

        self.job = job
        self.analyser = FractureAnalyser.from_model(job.model_path, threads=job.threads, engine=job.engine)
        self.images_dir = job.out / IMAGES_FOLDER
        self.objects: Any = None  # the object store's filesystem, opened at the first s3:// source

    def __call__(self, batch: dict[str, Any]) -> Any:
        import pyarrow as pa

        pairs = zip(batch["file_name"], batch["output_stem"], strict=True)
        rows = [self.row(str(name), str(stem)) for name, stem in pairs]
        return pa.Table.from_pylist(rows, schema=results_schema())

    def analyse(self, file_name: str) -> tuple[Radiograph, ImageFinding, ImageResult]:
        """Read and analyse one source: a local path, or an s3:// object whose bytes this actor reads."""
        conf, iou = self.job.conf, self.job.iou
        if not is_object_uri(file_name):
            return analyse_file(Path(file_name), self.analyser, conf=conf, iou=iou)
        if self.objects is None:
            self.objects = self.job.object_store.filesystem()
        data = read_object(self.objects, file_name)
        return analyse_bytes(data, file_name, self.analyser, conf=conf, iou=iou)

    def row(self, file_name: str, stem: str) -> dict[str, Any]:
        """One image's Parquet row; a file that cannot be used gives a failed row, never an exception."""
        try:
            image, finding, result = self.analyse(file_name)
            image_path = None
            if self.job.save_images:
                from bonefrac.imaging.render import encode_png

                self.images_dir.mkdir(parents=True, exist_ok=True)
                image_path = self.images_dir / f"{stem}.png"
                image_path.write_bytes(encode_png(annotated(image, finding)))
        except (BonefracError, ValueError, OSError) as exc:
            logger.warning("%s: skipped (%s)", file_name, exc)
            failed = {"file_name": file_name, "output_stem": stem, "status": "failed", "error": str(exc)}
            return {**dict.fromkeys(COLUMNS), **failed}
        boxes = result.detections
        return {
            "file_name": file_name,
            "output_stem": stem,
            "status": "ok",
            "error": None,
            "call": result.image.call,
            "score": result.image.score,
            "fracture_probability": result.image.fracture_probability,
            "detections": len(boxes),
            "max_confidence": max((d.confidence for d in boxes), default=None),
            "sha256": result.image.sha256,
            "image_path": None if image_path is None else str(image_path),
            "result_json": json.dumps(result_document(result)),
        }


def results_schema() -> Any:
    """The pyarrow schema of the results rows."""
    import pyarrow as pa

    return pa.schema(
        [
            ("file_name", pa.string()),
            ("output_stem", pa.string()),
            ("status", pa.string()),
            ("error", pa.string()),
            ("call", pa.string()),
            ("score", pa.float64()),
            ("fracture_probability", pa.float64()),
            ("detections", pa.int64()),
            ("max_confidence", pa.float64()),
            ("sha256", pa.string()),
            ("image_path", pa.string()),
            ("result_json", pa.string()),
        ]
    )


def read_results(out: Path, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Every row in OUT/results; a part file that cannot be read (a write cut off) is set aside as
    `*.incomplete`, so its images are analysed again."""
    import pyarrow.parquet as pq

    folder = Path(out) / RESULTS_FOLDER
    rows: list[dict[str, Any]] = []
    if not folder.is_dir():
        return rows
    for part in sorted(folder.glob("*.parquet")):
        try:
            rows.extend(pq.read_table(part, columns=columns).to_pylist())
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for a truncated file
            logger.warning("%s cannot be read (%s); set aside, its images will be analysed again", part, exc)
            part.rename(part.with_name(part.name + INCOMPLETE_SUFFIX))
    return rows


def _start_ray(job: RayJob) -> Any:
    """Connect to the cluster the job names, or start a local one on loopback without usage statistics."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--cluster needs Ray Data; install it with pip install 'bonefrac[ray]'") from exc
    address = parse_cluster(job.cluster)
    if address is None:
        cpus = job.local_cpus or job.workers * job.threads + 1
        ray.init(
            num_cpus=cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            configure_logging=False,
        )
    else:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    return ray


def predict_on_ray(items: Sequence[RaySource], job: RayJob) -> RayRun:
    """Analyse every input not yet in OUT/results on Ray; returns what this run did."""
    if job.workers < 1 or job.threads < 1 or job.batch_size < 1:
        raise ConfigError(
            "workers, threads and batch size must be >= 1, "
            f"got {job.workers}, {job.threads}, {job.batch_size}"
        )
    job = replace(job, model_path=Path(job.model_path).resolve(), out=Path(job.out).resolve())
    already = {str(row["file_name"]) for row in read_results(job.out, columns=["file_name"])}
    todo = [item for item in items if item.source not in already]
    run = RayRun(total=len(items), skipped=len(items) - len(todo))
    if not todo:
        return run
    (job.out / RESULTS_FOLDER).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    ray = _start_ray(job)
    run.startup_s = time.perf_counter() - started
    try:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        rows = [{"file_name": item.source, "output_stem": item.output_stem} for item in todo]
        dataset = ray.data.from_items(rows).map_batches(
            ImageAnalyser,
            fn_constructor_args=(job,),
            batch_size=job.batch_size,
            compute=ray.data.ActorPoolStrategy(size=job.workers),
            num_cpus=job.threads,
        )
        dataset.write_parquet(str(job.out / RESULTS_FOLDER))
    finally:
        ray.shutdown()
    run.seconds = time.perf_counter() - started - run.startup_s
    names = {item.source for item in todo}
    columns = ["file_name", "status", "error"]
    written = [r for r in read_results(job.out, columns) if r["file_name"] in names]
    run.done = len(written)
    run.failed = [(r["file_name"], r["error"] or "") for r in written if r["status"] != "ok"]
    return run
