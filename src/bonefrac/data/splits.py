"""`bonefrac data split`: a leakage-free, stratified re-split of a YOLO data set (no image or label copied).

Stages, each handing a frozen record to the next:
    method_groups   the pooled images of every split, grouped by the chosen method (-> MethodGrouping)
    run_checks      (`data check`) labels, and copy groups within and across splits
    merge_copies    the method's groups joined through those copy groups (-> Grouping, with box counts)
    plan_split      whole groups assigned to train/val/test or to test + K folds, stratified (-> SplitPlan)
    write_split     data.yaml, .txt lists of absolute image paths and split.json (or fold_<i>/ folders)

Layout written into out_dir:
    data.yaml, train.txt, val.txt, test.txt   (without --folds; a list is left out when its share is 0)
    test.txt, fold_<i>/{data.yaml,train.txt,val.txt}   (with --folds K; fold i's val is part i)
    split.json                                 how it was made, the groups, per-split counts
"""

from __future__ import annotations

import csv
import json
import logging
import posixpath
import random
import re
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import Field

from bonefrac.config import StrictModel
from bonefrac.data.checks import CheckOutcome, ProgressCallback, run_checks
from bonefrac.errors import ConfigError, DatasetError
from bonefrac.hashing import file_sha256
from bonefrac.records import DatasetSpec

log = logging.getLogger(__name__)

GroupBy = Literal["near-duplicates", "regex", "csv"]
DEFAULT_VAL = 0.1
LIST_NAMES = ("data.yaml", "split.json", "train.txt", "val.txt", "test.txt")
FOLD_DIR = re.compile(r"fold_\d+")
EXAMPLES = 5  # names listed in an error before "and N more"


class SplitOptions(StrictModel):
    """How `split_dataset` groups and divides the pooled images of a data set."""

    val: float | None = Field(None, ge=0.0, lt=1.0)  # None: 0.1 without folds; must stay None with folds
    test: float = Field(0.1, ge=0.0, lt=1.0)  # 0: no test split
    group_by: GroupBy = "near-duplicates"
    pattern: str | None = None  # group_by regex: searched in each file name's stem
    groups_csv: Path | None = None  # group_by csv: columns image, group
    seed: int = 0
    folds: int | None = Field(None, ge=2)  # K cross-validation folds instead of one val split

    def val_share(self) -> float:
        """The val share of a plain split (0 with folds: each fold's val is 1/K of what test leaves)."""
        if self.folds is not None:
            return 0.0
        return DEFAULT_VAL if self.val is None else self.val


@dataclass(frozen=True)
class ImageGroup:
    """Images that must stay in one split, with what they hold for stratification."""

    key: str  # the method's key (regex capture, CSV group, or the image's path relative to the root)
    images: tuple[Path, ...]  # sorted
    joined: tuple[str, ...] = ()  # keys of the method's groups that copies joined into this one (2+ if any)
    positives: int = 0  # images with at least one box
    boxes: tuple[int, ...] = ()  # boxes per class id

    def strata(self) -> np.ndarray:
        """Counts the assignment balances: images, positive images, then boxes of each class."""
        return np.array([len(self.images), self.positives, *self.boxes], dtype=np.float64)


@dataclass(frozen=True)
class MethodGrouping:
    """The groups of the chosen method alone, before copies are merged in."""

    method: GroupBy
    parameter: str | None  # the regex, or the CSV path
    groups: tuple[ImageGroup, ...]  # without counts
    unmatched: int  # regex: images the pattern did not match (each its own group); 0 otherwise


@dataclass(frozen=True)
class Grouping:
    """The final groups: the method's groups joined through copies of one radiograph, with counts."""

    method: GroupBy
    parameter: str | None
    groups: tuple[ImageGroup, ...]  # sorted by key
    unmatched: int
    merged_by_copies: int  # groups formed by joining two or more of the method's groups through copies
    class_names: tuple[str, ...]


@dataclass(frozen=True)
class SplitPlan:
    """Which groups go where: parts train/val/test, or test and fold_0..fold_{K-1} with folds."""

    parts: dict[str, tuple[ImageGroup, ...]]
    folds: int | None

    def fold_sets(self, fold: int) -> dict[str, tuple[ImageGroup, ...]]:
        """train and val of one fold: part `fold` is val, the other parts are train."""
        val_part = f"fold_{fold}"
        train = tuple(
            g
            for name, groups in self.parts.items()
            if name.startswith("fold_") and name != val_part
            for g in groups
        )
        return {"train": train, "val": self.parts[val_part]}


@dataclass(frozen=True)
class SplitResult:
    """What `write_split` wrote: the data.yaml files (one, or one per fold) and the split.json record."""

    out_dir: Path
    yaml_paths: tuple[Path, ...]
    record: dict[str, Any]


# --- options -------------------------------------------------------------------------------------


def check_options(options: SplitOptions) -> None:
    """Raise ConfigError for shares or grouping options that contradict each other."""
    if options.folds is not None and options.val is not None:
        raise ConfigError(
            f"val ({options.val}) does not apply with folds: each of the {options.folds} folds uses one "
            "part of what test leaves as val; drop --val or --folds"
        )
    val, test = options.val_share(), options.test
    if val + test >= 1.0:
        raise ConfigError(f"val + test must be below 1 so that train keeps images, got {val} + {test}")
    if options.group_by == "regex":
        if not options.pattern:
            raise ConfigError("group_by regex needs a pattern (--pattern), e.g. '(.*)\\.rf\\.[0-9a-f]+'")
        try:
            re.compile(options.pattern)
        except re.error as exc:
            raise ConfigError(
                f"pattern {options.pattern!r} is not a valid regular expression: {exc}"
            ) from exc
    elif options.pattern is not None:
        raise ConfigError(f"pattern applies only with group_by regex, not {options.group_by}")
    if options.group_by == "csv":
        if options.groups_csv is None:
            raise ConfigError("group_by csv needs a CSV file (--groups-csv) with columns image and group")
        if not Path(options.groups_csv).is_file():
            raise ConfigError(f"groups CSV not found: {options.groups_csv}")
    elif options.groups_csv is not None:
        raise ConfigError(f"groups_csv applies only with group_by csv, not {options.group_by}")


# --- grouping ------------------------------------------------------------------------------------


def pooled_images(spec: DatasetSpec) -> tuple[Path, ...]:
    """Every image of every split, once (a file listed in two splits is one image), sorted."""
    return tuple(sorted({image for images in spec.splits.values() for image in images}))


def relative_name(image: Path, root: Path) -> str:
    """The image's path relative to the data set root (posix), or its absolute path outside the root."""
    try:
        return image.relative_to(root).as_posix()
    except ValueError:
        return image.as_posix()


def _listing(items: Sequence[str]) -> str:
    more = f" and {len(items) - EXAMPLES} more" if len(items) > EXAMPLES else ""
    return ", ".join(items[:EXAMPLES]) + more


def _regex_keys(images: Sequence[Path], pattern: str) -> dict[Path, str | None]:
    """Image -> the regex key of its stem (first capture group, else the whole match); None: no key."""
    compiled = re.compile(pattern)
    keys: dict[Path, str | None] = {}
    for image in images:
        match = compiled.search(image.stem)
        key = None if match is None else (match.group(1) if compiled.groups else match.group(0))
        keys[image] = key or None  # an empty or absent capture is no key
    return keys


def _read_groups_csv(path: Path) -> list[tuple[int, str, str]]:
    """(line number, image, group) for each row of a CSV with columns image and group."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in reader.fieldnames or []]
            if "image" not in columns or "group" not in columns:
                raise ConfigError(
                    f"{path}: the first row must name the columns 'image' (a path relative to the data set "
                    f"root, or a file name) and 'group' (patient or study id); found {columns}"
                )
            reader.fieldnames = columns
            rows = []
            for row in reader:
                image, group = (row.get("image") or "").strip(), (row.get("group") or "").strip()
                if not image and not group:
                    continue
                if not image or not group:
                    raise ConfigError(f"{path} line {reader.line_num}: both image and group must be given")
                rows.append((reader.line_num, image, group))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path} cannot be read as a UTF-8 CSV: {exc}") from exc
    return rows


def _csv_keys(images: Sequence[Path], root: Path, path: Path) -> dict[Path, str]:
    """Image -> its CSV group; every image needs exactly one group, every row an image of the data set."""
    by_relative = {relative_name(image, root): image for image in images}
    by_absolute = {image.as_posix(): image for image in images}
    by_name: dict[str, list[Path]] = {}
    for image in images:
        by_name.setdefault(image.name, []).append(image)
    keys: dict[Path, str] = {}
    unknown, ambiguous, conflicts = [], [], []
    for line, reference, group in _read_groups_csv(path):
        text = reference.replace("\\", "/")
        if "/" in text:
            normal = posixpath.normpath(text)
            found = by_absolute.get(normal) if text.startswith("/") else by_relative.get(normal)
        else:
            named = by_name.get(text, [])
            if len(named) > 1:
                ambiguous.append(f"{text} (line {line})")
                continue
            found = named[0] if named else None
        if found is None:
            unknown.append(f"{reference} (line {line})")
        elif keys.setdefault(found, group) != group:
            conflicts.append(f"{reference} (line {line}: {group}, before: {keys[found]})")
    if unknown:
        raise ConfigError(
            f"{path}: {len(unknown)} rows name images that are not in the data set: {_listing(unknown)}; "
            f"give paths relative to {root}, or file names"
        )
    if ambiguous:
        raise ConfigError(
            f"{path}: {len(ambiguous)} file names match images in several folders: {_listing(ambiguous)}; "
            f"give their paths relative to {root}"
        )
    if conflicts:
        raise ConfigError(f"{path}: images given two different groups: {_listing(conflicts)}")
    missing = [relative_name(image, root) for image in images if image not in keys]
    if missing:
        raise ConfigError(
            f"{path} gives no group for {len(missing)} of {len(images)} images: {_listing(missing)}; every "
            "image needs a row (a partial CSV would let one patient's images fall into different splits)"
        )
    return keys


def method_groups(spec: DatasetSpec, options: SplitOptions) -> MethodGrouping:
    """Group the pooled images by the chosen method (before copies are merged in)."""
    check_options(options)
    images = pooled_images(spec)
    members: dict[tuple[str, str], list[Path]] = {}  # (kind, key): kinds keep a regex key apart from a path
    unmatched = 0
    parameter: str | None = None
    if options.group_by == "regex":
        assert options.pattern is not None
        parameter = options.pattern
        for image, key in _regex_keys(images, options.pattern).items():
            if key is None:
                unmatched += 1
                members[("image", relative_name(image, spec.root))] = [image]
            else:
                members.setdefault(("regex", key), []).append(image)
    elif options.group_by == "csv":
        assert options.groups_csv is not None
        parameter = str(options.groups_csv)
        for image, key in _csv_keys(images, spec.root, Path(options.groups_csv)).items():
            members.setdefault(("csv", key), []).append(image)
    else:
        for image in images:
            members[("image", relative_name(image, spec.root))] = [image]
    ordered = sorted(members.items(), key=lambda item: (item[0][1], item[0][0]))
    groups = tuple(ImageGroup(key, tuple(sorted(paths))) for (_, key), paths in ordered)
    return MethodGrouping(options.group_by, parameter, groups, unmatched)


def _label_counts(outcome: CheckOutcome, num_classes: int) -> dict[Path, np.ndarray]:
    """Image -> its usable boxes per class id (malformed label lines do not count)."""
    counts: dict[Path, np.ndarray] = {}
    for split, labels in outcome.labels.items():
        for image, label in zip(outcome.images[split], labels, strict=True):
            counts[image.path] = np.bincount(label.class_ids, minlength=num_classes)[:num_classes]
    return counts


def merge_copies(
    method: MethodGrouping,
    copy_groups: Sequence[tuple[Path, ...]],
    boxes: Mapping[Path, np.ndarray],
    class_names: tuple[str, ...],
) -> Grouping:
    """Join the method's groups through copies of one radiograph, and count what each final group holds."""
    parent = list(range(len(method.groups)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    group_of = {image: i for i, group in enumerate(method.groups) for image in group.images}
    for copies in copy_groups:
        indices = sorted({group_of[image] for image in copies if image in group_of})
        for other in indices[1:]:
            a, b = root(indices[0]), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    joined: dict[int, list[ImageGroup]] = {}
    for i, group in enumerate(method.groups):
        joined.setdefault(root(i), []).append(group)
    zero = np.zeros(len(class_names), dtype=np.int64)
    final = []
    for parts in joined.values():
        images = tuple(sorted(image for part in parts for image in part.images))
        per_image = [boxes.get(image, zero) for image in images]
        keys = sorted(part.key for part in parts)
        final.append(
            ImageGroup(
                key=keys[0],
                images=images,
                joined=tuple(keys) if len(keys) > 1 else (),
                positives=sum(1 for counts in per_image if counts.sum() > 0),
                boxes=tuple(int(v) for v in np.stack(per_image).sum(axis=0).tolist()),
            )
        )
    final.sort(key=lambda g: (g.key, g.images))
    return Grouping(
        method=method.method,
        parameter=method.parameter,
        groups=tuple(final),
        unmatched=method.unmatched,
        merged_by_copies=sum(1 for g in final if g.joined),
        class_names=class_names,
    )


# --- stratified assignment -----------------------------------------------------------------------


class _Balance:
    """Per-part sums of the groups' strata and their squared, scaled deviation from the targets."""

    def __init__(self, vectors: np.ndarray, fractions: np.ndarray) -> None:
        self.vectors = vectors
        totals = vectors.sum(axis=0)
        self.scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        self.targets = fractions[:, None] * totals[None, :]
        self.current = np.zeros_like(self.targets)
        self.members = np.zeros(len(fractions), dtype=np.int64)

    def change(self, group: int, sign: float) -> np.ndarray:
        """For every part: how the cost changes when the group is added (sign 1) or removed (sign -1)."""
        before = ((self.current - self.targets) * self.scale) ** 2
        after = ((self.current + sign * self.vectors[group] - self.targets) * self.scale) ** 2
        return np.asarray((after - before).sum(axis=1))

    def move(self, group: int, source: int | None, target: int) -> None:
        if source is not None:
            self.current[source] -= self.vectors[group]
            self.members[source] -= 1
        self.current[target] += self.vectors[group]
        self.members[target] += 1


def _best_move(balance: _Balance, group: int, source: int) -> tuple[float, int]:
    """The cheapest other part for a group now in `source`: (cost change, part)."""
    removed = float(balance.change(group, -1.0)[source])
    added = balance.change(group, 1.0)
    return min((removed + float(added[p]), p) for p in range(len(added)) if p != source)


def assign_groups(
    groups: Sequence[ImageGroup], shares: Mapping[str, float], seed: int, max_passes: int = 20
) -> dict[str, tuple[ImageGroup, ...]]:
    """Whole groups to parts so that each part's images, positive images and boxes of every class come
    close to its share. Cost: the squared deviation from the targets, every stratum scaled by its total.
    Greedy (groups shuffled with the seed, largest first, each where it adds least cost), then an empty
    part gets the group cheapest to move there, then single moves that lower the cost, in passes until
    none does. Parts with share 0 are left out.
    """
    names = [name for name, share in shares.items() if share > 0]
    if not names or not groups:
        return {name: () for name in names}
    if len(groups) < len(names):
        raise DatasetError(
            f"{len(groups)} groups cannot fill the {len(names)} parts {names} without splitting a group; "
            "use a larger data set, fewer folds, or a share of 0 for val or test"
        )
    fractions = np.array([shares[name] for name in names]) / sum(shares[name] for name in names)
    balance = _Balance(np.stack([g.strata() for g in groups]), fractions)
    order = list(range(len(groups)))
    random.Random(f"bonefrac-split:{seed}").shuffle(order)
    order.sort(key=lambda i: -len(groups[i].images))  # stable: equal sizes keep the seeded order
    where = [0] * len(groups)
    for i in order:
        added = balance.change(i, 1.0)
        # ties (equal up to rounding): the part furthest below its image target, then the first part
        below = balance.current[:, 0] - balance.targets[:, 0]
        where[i] = min(range(len(names)), key=lambda p: (round(float(added[p]), 12), float(below[p])))
        balance.move(i, None, where[i])
    for empty in (p for p in range(len(names)) if balance.members[p] == 0):
        _, group = min(
            (float(balance.change(i, -1.0)[where[i]] + balance.change(i, 1.0)[empty]), i)
            for i in order
            if balance.members[where[i]] > 1
        )
        balance.move(group, where[group], empty)
        where[group] = empty
    for _ in range(max_passes):
        moved = False
        for i in order:
            if balance.members[where[i]] == 1:
                continue  # never empty a part
            cost, target = _best_move(balance, i, where[i])
            if cost < -1e-12:
                balance.move(i, where[i], target)
                where[i] = target
                moved = True
        if not moved:
            break
    return {
        name: tuple(sorted((groups[i] for i in order if where[i] == p), key=lambda g: g.key))
        for p, name in enumerate(names)
    }


def plan_split(grouping: Grouping, options: SplitOptions) -> SplitPlan:
    """Assign the groups: train/val/test, or test held out once and the rest into K folds."""
    if options.folds is None:
        shares = {"train": 1.0 - options.val_share() - options.test, "val": options.val_share()}
        parts = assign_groups(grouping.groups, {**shares, "test": options.test}, options.seed)
        return SplitPlan(parts, None)
    held = assign_groups(grouping.groups, {"rest": 1.0 - options.test, "test": options.test}, options.seed)
    folds = assign_groups(
        held["rest"], {f"fold_{i}": 1.0 / options.folds for i in range(options.folds)}, options.seed
    )
    parts = {**({"test": held["test"]} if "test" in held else {}), **folds}
    return SplitPlan(parts, options.folds)


# --- writing -------------------------------------------------------------------------------------


def _is_split_output(out_dir: Path) -> bool:
    return (out_dir / "split.json").is_file()


def _refuse_foreign(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is a file; --out must be a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise ConfigError(
                f"{out_dir} is not empty; choose an empty folder, or pass overwrite to replace a split "
                "written there before"
            )
        if not _is_split_output(out_dir):
            raise ConfigError(f"{out_dir} is not empty and holds no split.json; refusing to overwrite it")


def _clear(out_dir: Path) -> None:
    """Remove what an earlier split wrote (and nothing else)."""
    for name in LIST_NAMES:
        target = out_dir / name
        if target.is_file() or target.is_symlink():
            target.unlink()
    for child in out_dir.iterdir() if out_dir.is_dir() else ():
        if child.is_dir() and not child.is_symlink() and FOLD_DIR.fullmatch(child.name):
            shutil.rmtree(child)


def _part_counts(groups: Sequence[ImageGroup], grouping: Grouping, totals: np.ndarray) -> dict[str, Any]:
    summed = np.sum([g.strata() for g in groups], axis=0) if groups else np.zeros_like(totals)
    images, positives = int(summed[0]), int(summed[1])
    return {
        "groups": len(groups),
        "images": images,
        "positives": positives,
        "boxes": int(summed[2:].sum()),
        "boxes_per_class": {name: int(v) for name, v in zip(grouping.class_names, summed[2:], strict=True)},
        "image_share": round(images / totals[0], 4) if totals[0] else 0.0,
        "positive_share": round(positives / totals[1], 4) if totals[1] else 0.0,
    }


def _list_text(groups: Sequence[ImageGroup]) -> str:
    return "".join(f"{image}\n" for image in sorted(str(i) for g in groups for i in g.images))


def _yaml_text(header: str, entries: Mapping[str, str], class_names: tuple[str, ...]) -> str:
    body = {**entries, "names": dict(enumerate(class_names))}
    return header + yaml.safe_dump(body, sort_keys=False)


def build_record(
    spec: DatasetSpec, grouping: Grouping, plan: SplitPlan, options: SplitOptions
) -> dict[str, Any]:
    """split.json: how the split was made and what each part holds (deterministic for input and seed)."""
    totals = np.sum([g.strata() for g in grouping.groups], axis=0)
    sizes = Counter(len(g.images) for g in grouping.groups)
    record: dict[str, Any] = {
        "source": str(spec.yaml_path),
        "source_fingerprint": spec.fingerprint,
        "seed": options.seed,
        "fractions": {"val": None if plan.folds else options.val_share(), "test": options.test},
        "folds": plan.folds,
        "grouping": {
            "method": grouping.method,
            "parameter": grouping.parameter,
            "groups_csv_sha256": (
                file_sha256(grouping.parameter) if grouping.method == "csv" and grouping.parameter else None
            ),
            "groups": len(grouping.groups),
            "group_sizes": {str(size): sizes[size] for size in sorted(sizes)},
            "unmatched_images": grouping.unmatched,
            "merged_by_copies": grouping.merged_by_copies,
            "copy_merges": [{"key": g.key, "joined": list(g.joined)} for g in grouping.groups if g.joined],
        },
        "class_names": list(grouping.class_names),
        "images": int(totals[0]),
        "splits": {
            name: {**_part_counts(groups, grouping, totals), "group_keys": [g.key for g in groups]}
            for name, groups in plan.parts.items()
        },
    }
    if plan.folds:
        record["fold_sets"] = [
            {
                "data_yaml": f"fold_{i}/data.yaml",
                **{
                    part: _part_counts(groups, grouping, totals) for part, groups in plan.fold_sets(i).items()
                },
            }
            for i in range(plan.folds)
        ]
    return record


def write_split(
    spec: DatasetSpec, grouping: Grouping, plan: SplitPlan, options: SplitOptions, out_dir: Path
) -> SplitResult:
    """Write the lists, data.yaml file(s) and split.json of `plan` into out_dir (an earlier split cleared)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _clear(out_dir)
    how = f"grouped by {grouping.method}" + (
        f" {json.dumps(grouping.parameter)}" if grouping.parameter is not None else ""
    )
    shares = (f"{plan.folds} folds" if plan.folds else f"val {options.val_share():g}") + (
        f", test {options.test:g}"
    )
    header = (
        f"# Re-split of {spec.yaml_path} (fingerprint {spec.fingerprint[:12]}) by bonefrac data split:\n"
        f"# {how}, copies of one radiograph kept together; {shares}; seed {options.seed}. See split.json.\n"
        "# The lists name the original images; their labels stay beside them (images/ -> labels/).\n"
    )
    yaml_paths: list[Path] = []
    if plan.folds is None:
        entries = {}
        for name, groups in plan.parts.items():
            (out_dir / f"{name}.txt").write_text(_list_text(groups), encoding="utf-8")
            entries[name] = f"{name}.txt"
        yaml_paths.append(out_dir / "data.yaml")
        yaml_paths[0].write_text(_yaml_text(header, entries, grouping.class_names), encoding="utf-8")
    else:
        test_entry = {}
        if "test" in plan.parts:
            (out_dir / "test.txt").write_text(_list_text(plan.parts["test"]), encoding="utf-8")
            test_entry = {"test": "../test.txt"}
        for fold in range(plan.folds):
            folder = out_dir / f"fold_{fold}"
            folder.mkdir()
            for name, groups in plan.fold_sets(fold).items():
                (folder / f"{name}.txt").write_text(_list_text(groups), encoding="utf-8")
            entries = {"train": "train.txt", "val": "val.txt", **test_entry}
            fold_header = (
                header + f"# Fold {fold} of {plan.folds}: val is part {fold}, train the other parts.\n"
            )
            (folder / "data.yaml").write_text(
                _yaml_text(fold_header, entries, grouping.class_names), encoding="utf-8"
            )
            yaml_paths.append(folder / "data.yaml")
    record = build_record(spec, grouping, plan, options)
    (out_dir / "split.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    log.info("wrote split %s: %s", out_dir, {n: s["images"] for n, s in record["splits"].items()})
    return SplitResult(out_dir, tuple(yaml_paths), record)


def split_dataset(
    spec: DatasetSpec,
    out_dir: Path,
    options: SplitOptions,
    workers: int | None = None,
    overwrite: bool = False,
    on_progress: ProgressCallback | None = None,
) -> SplitResult:
    """Pool, group (copies always merged in), assign stratified and write a re-split of `spec`."""
    out_dir = Path(out_dir).expanduser().absolute()
    method = method_groups(spec, options)  # option and CSV errors before any image is decoded
    _refuse_foreign(out_dir, overwrite)
    outcome = run_checks(spec, workers=workers, on_progress=on_progress)
    boxes = _label_counts(outcome, len(spec.class_names))
    grouping = merge_copies(method, outcome.copy_groups, boxes, spec.class_names)
    plan = plan_split(grouping, options)
    return write_split(spec, grouping, plan, options, out_dir)
