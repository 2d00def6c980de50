"""`bonefrac data check`: scan every image and label of a data set and turn what is wrong into findings."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bonefrac.data import duplicates as dup
from bonefrac.data.image_checks import ImageScan, scan_image
from bonefrac.data.label_checks import LabelScan, find_orphan_labels, missing_label_convention, scan_label
from bonefrac.data.parallel import map_files
from bonefrac.data.stats import split_stats
from bonefrac.data.yolo_format import label_path_for
from bonefrac.records import DataReport, DatasetSpec, Finding, Severity

log = logging.getLogger(__name__)

# (stage description, files done so far in that stage, files in that stage)
ProgressCallback = Callable[[str, int, int], None]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class CheckOutcome:
    """The report plus the per-file scans behind it (the EDA report draws from these)."""

    report: DataReport
    images: dict[str, list[ImageScan]]
    labels: dict[str, list[LabelScan]]
    near_duplicates: list[dup.DuplicatePair]
    copy_groups: list[tuple[Path, ...]]  # images holding one radiograph (identical or near copies), any split


def _scan_one(task: tuple[Path, int]) -> tuple[ImageScan, LabelScan]:
    image, num_classes = task
    return scan_image(image), scan_label(label_path_for(image), num_classes)


class _Findings:
    """Collects findings, naming files relative to the data set root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.items: list[Finding] = []

    def name(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def add(
        self, severity: Severity, kind: str, split: str | None, files: Sequence[Path], detail: str
    ) -> None:
        self.items.append(Finding(severity, kind, split, tuple(self.name(f) for f in files), detail))

    def sorted(self) -> tuple[Finding, ...]:
        return tuple(
            sorted(self.items, key=lambda f: (SEVERITY_ORDER[f.severity], f.kind, f.split or "", f.files))
        )


def _image_findings(found: _Findings, split: str, scans: Sequence[ImageScan]) -> None:
    for scan in scans:
        if scan.status == "corrupt":
            found.add("error", "corrupt_image", split, [scan.path], scan.problem)
        elif scan.status == "truncated":
            severity: Severity = "warning" if scan.strict_decode else "error"
            found.add(severity, "truncated_image", split, [scan.path], f"truncated JPEG: {scan.problem}")
        if scan.exif_orientation not in (0, 1):
            found.add(
                "warning",
                "exif_orientation",
                split,
                [scan.path],
                f"EXIF orientation {scan.exif_orientation}: most viewers rotate these pixels before showing "
                "them, some loaders do not; check which orientation the boxes were drawn on",
            )


def _label_findings(
    found: _Findings, split: str, labels: Sequence[LabelScan], images: Sequence[ImageScan]
) -> None:
    for label, image in zip(labels, images, strict=True):
        for severity in ("error", "warning"):
            messages = [p.message for p in label.problems if p.severity == severity]
            if messages:
                more = f" (and {len(messages) - 5} more)" if len(messages) > 5 else ""
                found.add(
                    severity, "bad_label", split, [label.path, image.path], "; ".join(messages[:5]) + more
                )
    missing = [image.path for label, image in zip(labels, images, strict=True) if not label.exists]
    if missing:
        severity, meaning = missing_label_convention(labels)
        found.add(
            severity,
            "missing_label",
            split,
            missing,
            f"{len(missing)} images have no label file; {meaning}",
        )


def _orphan_findings(found: _Findings, images: dict[str, list[ImageScan]]) -> None:
    reported: set[Path] = set()
    for split, scans in images.items():
        for orphan in find_orphan_labels(scan.path for scan in scans):
            if orphan not in reported:
                reported.add(orphan)
                found.add(
                    "warning", "orphan_label", split, [orphan], "label file without an image of that name"
                )


def _evidence(pair: dup.DuplicatePair) -> str:
    if pair.inliers:
        return f"{pair.inliers} keypoints agree on one transform, pixel correlation {pair.correlation:.3f}"
    return f"pixel correlation {pair.correlation:.3f}"


def _copy_group_findings(
    found: _Findings, images: dict[str, list[ImageScan]], groups: Sequence[tuple[Path, ...]]
) -> None:
    """One info finding per split that holds groups of copies: how many, how large (they decide a split)."""
    split_of = {scan.path: split for split, scans in images.items() for scan in scans}
    for split in images:
        within = [g for group in groups if len(g := [p for p in group if split_of.get(p) == split]) > 1]
        if not within:
            continue
        sizes = sorted((len(g) for g in within), reverse=True)
        by_size = sorted(Counter(sizes).items(), reverse=True)
        histogram = ", ".join(f"{count} of {size}" for size, count in by_size)
        found.add(
            "info",
            "near_duplicate_groups",
            split,
            [p for g in within for p in sorted(g)],
            f"{len(within)} groups of copies of one radiograph in {split} ({sum(sizes)} images; groups: "
            f"{histogram}); keep each group in one split when re-splitting (`bonefrac data split`)",
        )


def _pair_split(pair: dup.DuplicatePair) -> str:
    return pair.split_a if pair.split_a == pair.split_b else f"{pair.split_a},{pair.split_b}"


def _duplicate_findings(
    found: _Findings,
    images: dict[str, list[ImageScan]],
    labels_by_image: dict[Path, LabelScan],
    class_names: Sequence[str],
    near_pairs: list[dup.DuplicatePair],
) -> list[dup.DuplicatePair]:
    """Adds the duplicate and label-conflict findings; returns the byte-identical pairs of distinct files."""
    pairs: list[dup.DuplicatePair] = []
    for group in dup.exact_duplicate_groups(images):
        splits = sorted({split for split, _ in group}, key=lambda s: SPLIT_ORDER.get(s, 9))
        for split in splits:
            members = [scan.path for s, scan in group if s == split]
            if len(set(members)) > 1:
                found.add(
                    "warning",
                    "duplicate_within_split",
                    split,
                    members,
                    f"{len(members)} byte-identical files in {split}",
                )
        if len(splits) > 1:
            files = [scan.path for _, scan in group]
            how = "the same file is listed in" if len(set(files)) == 1 else "byte-identical files in"
            found.add(
                "error",
                "cross_split_duplicate",
                ",".join(splits),
                files,
                f"{how} {' and '.join(splits)}: the evaluation split leaks training images",
            )
        pairs += [p for p in dup.pairs_in_group(group) if p.a != p.b]
    for pair in near_pairs:
        if pair.split_a != pair.split_b:
            found.add(
                "warning",
                "cross_split_near_duplicate",
                _pair_split(pair),
                [pair.a, pair.b],
                f"the same radiograph in {pair.split_a} and {pair.split_b}, {pair.how} "
                f"({_evidence(pair)}): the evaluation split leaks a training image",
            )
    for pair in pairs + near_pairs:
        la, lb = labels_by_image[pair.a], labels_by_image[pair.b]
        reason = dup.label_disagreement(la, lb, pair.a_to_b)
        if reason:
            found.add(
                "error",
                "label_conflict",
                _pair_split(pair),
                [pair.a, pair.b],
                f"copies of one radiograph labelled differently ({reason}): {found.name(pair.a)} has "
                f"{dup.describe_labels(la, class_names)}, {found.name(pair.b)} has "
                f"{dup.describe_labels(lb, class_names)}",
            )
    return pairs


def _near_copies(
    found: _Findings,
    images: dict[str, list[ImageScan]],
    workers: int | None,
    on_progress: ProgressCallback | None,
) -> list[dup.DuplicatePair]:
    """Copies of one radiograph in any split (see `copies`); without OpenCV and faiss, a warning instead."""
    try:
        import cv2  # noqa: F401
        import faiss  # noqa: F401
    except ImportError as exc:
        found.add(
            "warning",
            "copy_search_skipped",
            None,
            [],
            f"copies that are not byte-identical were not looked for: {exc.name or 'OpenCV or faiss'} is not "
            "installed "
            "(pip install 'bonefrac[data]' adds OpenCV and faiss)",
        )
        return []

    def step(done: int, total: int) -> None:
        if on_progress:
            on_progress("compare similar images", done, total)

    return dup.near_copies(images, workers, step)


def run_checks(
    spec: DatasetSpec, workers: int | None = None, on_progress: ProgressCallback | None = None
) -> CheckOutcome:
    """Scan every image and label of `spec` and collect findings and statistics."""
    started = time.perf_counter()
    tasks = [(image, len(spec.class_names)) for split in spec.splits for image in spec.splits[split]]
    done = 0

    def advance(stage: str, total: int) -> Callable[[int], None]:
        def step(n: int) -> None:
            nonlocal done
            done += n
            if on_progress:
                on_progress(stage, done, total)

        return step

    scanned = map_files(_scan_one, tasks, workers, advance("decode and hash images", len(tasks)))
    images: dict[str, list[ImageScan]] = {}
    labels: dict[str, list[LabelScan]] = {}
    offset = 0
    for split, paths in spec.splits.items():
        chunk = scanned[offset : offset + len(paths)]
        offset += len(paths)
        images[split] = [image for image, _ in chunk]
        labels[split] = [label for _, label in chunk]
    found = _Findings(spec.root)
    for split in spec.splits:
        if not images[split]:
            found.add("warning", "empty_split", split, [], f"split {split!r} has no images")
        _image_findings(found, split, images[split])
        _label_findings(found, split, labels[split], images[split])
    _orphan_findings(found, images)
    near_pairs = _near_copies(found, images, workers, on_progress)
    labels_by_image = {
        scan.path: label for split in images for scan, label in zip(images[split], labels[split], strict=True)
    }
    exact_pairs = _duplicate_findings(found, images, labels_by_image, spec.class_names, near_pairs)
    groups = dup.copy_groups(exact_pairs + near_pairs)
    _copy_group_findings(found, images, groups)
    report = DataReport(
        yaml_path=spec.yaml_path,
        root=spec.root,
        fingerprint=spec.fingerprint,
        class_names=spec.class_names,
        splits={s: split_stats(images[s], labels[s], spec.class_names) for s in spec.splits},
        findings=found.sorted(),
        seconds=time.perf_counter() - started,
    )
    log.info("checked %d images in %.1f s: %d findings", len(tasks), report.seconds, len(report.findings))
    return CheckOutcome(report, images, labels, near_pairs, groups)


def check_dataset(
    spec: DatasetSpec, workers: int | None = None, on_progress: ProgressCallback | None = None
) -> DataReport:
    """The findings and per-split statistics of a data set (see `run_checks`)."""
    return run_checks(spec, workers, on_progress).report


def write_report_json(report: DataReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path
