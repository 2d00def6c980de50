"""`bonefrac compare`: several eval.json files (or run folders holding one) side by side.

Writes a table, compare.csv and plots."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bonefrac.errors import EvaluationError
from bonefrac.evaluate.eval_file import find_eval_json, read_eval_report
from bonefrac.evaluate.record import EvalReport, Metric


@dataclass(frozen=True)
class CompareColumn:
    key: str  # where the metric lives in eval.json
    label: str  # column header (table, CSV, plot)
    pick: Callable[[EvalReport], Metric]


COMPARE_METRICS: tuple[CompareColumn, ...] = (
    CompareColumn("box.map50", "mAP50", lambda r: r.box.map50),
    CompareColumn("box.map50_95", "mAP50-95", lambda r: r.box.map50_95),
    CompareColumn("box_fractured_only.map50", "frac-only mAP50", lambda r: r.box_fractured_only.map50),
    CompareColumn(
        "box_fractured_only.map50_95", "frac-only mAP50-95", lambda r: r.box_fractured_only.map50_95
    ),
    CompareColumn("box.precision", "precision", lambda r: r.box.precision),
    CompareColumn("box.recall", "recall", lambda r: r.box.recall),
    CompareColumn("image.auroc", "AUROC", lambda r: r.image.auroc),
    CompareColumn("image.sensitivity", "sensitivity", lambda r: r.image.sensitivity),
    CompareColumn("image.specificity", "specificity", lambda r: r.image.specificity),
    CompareColumn("froc.score", "FROC", lambda r: r.froc.score),
)


@dataclass(frozen=True)
class CompareRow:
    """One evaluation in the comparison: its short name and the compared metrics by column key."""

    name: str
    path: Path
    report: EvalReport
    metrics: dict[str, Metric]

    @property
    def split(self) -> str:
        return self.report.data.split

    @property
    def threshold(self) -> float:
        return self.report.image.threshold


@dataclass(frozen=True)
class CompareOutcome:
    rows: list[CompareRow]
    csv_path: Path
    plots: list[Path]


def _names(paths: Sequence[Path]) -> list[str]:
    """Short distinct names: the folder above eval-<split>/ (the run), else the file's folder."""
    names = []
    for path in paths:
        folder = path.parent
        parts = [p for p in folder.parts if p not in ("weights",) and not p.startswith("eval")]
        names.append("/".join(parts[-2:]) if parts else folder.name)
    if len(set(names)) < len(names):
        names = [str(p.parent) for p in paths]
    return names


def compare(inputs: Sequence[Path], out_dir: Path) -> CompareOutcome:
    """Rows of the main metrics per evaluation; writes compare.csv and two PNG plots into out_dir."""
    if not inputs:
        raise EvaluationError("compare needs at least one eval.json or run folder")
    paths = [find_eval_json(Path(p)) for p in inputs]
    reports = [read_eval_report(p) for p in paths]
    rows = [
        CompareRow(name, path, report, {c.key: c.pick(report) for c in COMPARE_METRICS})
        for name, path, report in zip(_names(paths), paths, reports, strict=True)
    ]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "compare.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = ["name", "split", "threshold"]
        for column in COMPARE_METRICS:
            header += [column.label, f"{column.label}_ci_low", f"{column.label}_ci_high"]
        writer.writerow(header + ["path"])
        for row in rows:
            line: list[object] = [row.name, row.split, row.threshold]
            for column in COMPARE_METRICS:
                metric = row.metrics[column.key]
                low, high = metric.ci95 or (None, None)
                line += [metric.value, low, high]
            writer.writerow(line + [str(row.path)])
    from bonefrac.evaluate import plots

    bars = out_dir / "compare_metrics.png"
    bars.write_bytes(
        plots.compare_bars_png(
            [(row.name, [row.metrics[c.key] for c in COMPARE_METRICS]) for row in rows],
            [c.label for c in COMPARE_METRICS],
        )
    )
    curves = out_dir / "compare_curves.png"
    curves.write_bytes(plots.compare_curves_png([(row.name, row.report) for row in rows]))
    return CompareOutcome(rows=rows, csv_path=csv_path, plots=[bars, curves])


def format_cell(metric: Metric) -> str:
    """'0.412 [0.31-0.52]', or 'n/a' when undefined."""
    if metric.value is None:
        return "n/a"
    ci = metric.ci95
    return f"{metric.value:.3f}" + (f" [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else "")
