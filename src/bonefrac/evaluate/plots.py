"""Figures of an evaluation as PNG bytes (matplotlib, Agg backend): PR, ROC, FROC, confusion, thresholds."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bonefrac.evaluate.record import EvalReport, Metric


def _figure(width: float = 5.0, height: float = 4.0):  # noqa: ANN202 - matplotlib types
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    ax.grid(True, alpha=0.3)
    return fig, ax


def _png(fig) -> bytes:  # noqa: ANN001
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _fmt(metric: Metric) -> str:
    value, ci = metric.value, metric.ci95
    if value is None:
        return "n/a"
    return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def pr_curve_png(report: EvalReport) -> bytes:
    fig, ax = _figure()
    for name, curve in report.box.pr_curves.items():
        ap = _fmt(report.box.per_class[name].ap50)
        line = ax.plot(curve.recall_points, curve.interpolated_precision, label=f"{name} AP50 {ap}")[0]
        ax.plot(curve.recall, curve.precision, alpha=0.35, color=line.get_color(), linewidth=0.8)
    ax.set(
        xlabel="recall",
        ylabel="precision",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title="Precision-recall at IoU 0.5 (COCO envelope; faint: raw)",
    )
    ax.legend(loc="lower left", fontsize=8)
    return _png(fig)


def roc_png(report: EvalReport) -> bytes:
    image = report.image
    fig, ax = _figure()
    ax.plot(image.roc.fpr, image.roc.tpr, label=f"AUROC {_fmt(image.auroc)}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    sens, spec = image.sensitivity.value, image.specificity.value
    if sens is not None and spec is not None:
        ax.scatter(
            [1 - spec],
            [sens],
            color="red",
            zorder=3,
            label=f"threshold {image.threshold:.3f}: sens {sens:.2f}, spec {spec:.2f}",
        )
    ax.set(
        xlabel="1 - specificity (background images called positive)",
        ylabel="sensitivity",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title="Image-level ROC (score = highest box confidence)",
    )
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def froc_png(report: EvalReport) -> bytes:
    froc = report.froc
    fig, ax = _figure()
    x = np.maximum(np.asarray(froc.curve.fp_per_image, dtype=float), 1e-3)
    ax.plot(x, froc.curve.sensitivity, label=f"FROC score {_fmt(froc.score)}")
    rates = [p.fp_per_image for p in froc.points]
    values = [p.sensitivity.value or 0.0 for p in froc.points]
    lows = [v - (p.sensitivity.ci95 or (v, v))[0] for v, p in zip(values, froc.points, strict=True)]
    highs = [(p.sensitivity.ci95 or (v, v))[1] - v for v, p in zip(values, froc.points, strict=True)]
    ax.errorbar(
        rates, values, yerr=[lows, highs], fmt="o", color="red", capsize=3, label="sensitivity at rate"
    )
    ax.set_xscale("log", base=2)
    ax.set(
        xlabel="mean false positives per image",
        ylabel="lesion sensitivity",
        ylim=(0, 1.02),
        xlim=(1 / 16, 16),
        title="FROC (IoU >= 0.5)",
    )
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def confusion_png(report: EvalReport) -> bytes:
    image, box = report.image.confusion, report.box.confusion
    fig, ax = _figure(4.6, 3.8)
    ax.grid(False)
    matrix = np.array([[image.tp, image.fn], [image.fp, image.tn]])
    ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            str(value),
            ha="center",
            va="center",
            fontsize=14,
            color="white" if value > matrix.max() / 2 else "black",
        )
    ax.set_xticks([0, 1], ["called fracture", "called normal"])
    ax.set_yticks([0, 1], ["has fracture", "background"])
    ax.set_title(
        f"Images at threshold {report.image.threshold:.3f}\nboxes: TP {box.tp}, FP {box.fp}, FN {box.fn}",
        fontsize=10,
    )
    return _png(fig)


def threshold_png(report: EvalReport) -> bytes:
    """Image-level sensitivity and specificity against the threshold, from the ROC points."""
    roc = report.image.roc
    thresholds = np.array([t if t is not None else np.nan for t in roc.thresholds], dtype=float)
    keep = np.isfinite(thresholds)
    fig, ax = _figure()
    ax.step(thresholds[keep], np.asarray(roc.tpr)[keep], where="post", label="sensitivity")
    ax.step(thresholds[keep], 1 - np.asarray(roc.fpr)[keep], where="post", label="specificity")
    ax.axvline(report.image.threshold, color="red", linestyle="--", linewidth=1, label="operating point")
    ax.set(
        xlabel="confidence threshold",
        ylabel="rate",
        xlim=(0, 1),
        ylim=(0, 1.02),
        title="Image-level sensitivity and specificity",
    )
    ax.legend(loc="center right", fontsize=8)
    return _png(fig)


def compare_bars_png(rows: list[tuple[str, list[Metric]]], labels: list[str]) -> bytes:
    """Grouped bars with 95% intervals: one group per metric (label), one bar per evaluation (name)."""
    fig, ax = _figure(max(6.0, 1.2 * len(labels) * max(1, len(rows)) / 2), 4.2)
    width = 0.8 / max(1, len(rows))
    for r, (name, metrics) in enumerate(rows):
        xs, ys, err_lo, err_hi = [], [], [], []
        for k, metric in enumerate(metrics):
            value = metric.value
            if value is None:
                continue
            ci = metric.ci95 or (value, value)
            xs.append(k + r * width)
            ys.append(value)
            err_lo.append(value - ci[0])
            err_hi.append(ci[1] - value)
        ax.bar(xs, ys, width=width, yerr=[err_lo, err_hi], capsize=2, label=name)
    ax.set_xticks(
        [k + 0.4 - width / 2 for k in range(len(labels))],
        labels,
        rotation=20,
        fontsize=8,
    )
    ax.set(ylim=(0, 1.05), title="Evaluations side by side (bars: 95% bootstrap intervals)")
    ax.legend(fontsize=7, loc="upper right")
    return _png(fig)


def compare_curves_png(reports: list[tuple[str, EvalReport]]) -> bytes:
    """ROC and FROC of several evaluations on one figure."""
    import matplotlib.pyplot as plt

    fig, (roc_ax, froc_ax) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for name, report in reports:
        roc = report.image.roc
        auc = report.image.auroc.value
        roc_ax.plot(roc.fpr, roc.tpr, label=f"{name} ({auc:.3f})" if auc is not None else name)
        curve = report.froc.curve
        froc_ax.plot(np.maximum(curve.fp_per_image, 1e-3), curve.sensitivity, label=name)
    roc_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    roc_ax.set(xlabel="1 - specificity", ylabel="sensitivity", title="Image-level ROC (AUROC)")
    froc_ax.set_xscale("log", base=2)
    froc_ax.set(
        xlabel="mean false positives per image",
        ylabel="lesion sensitivity",
        xlim=(1 / 16, 16),
        ylim=(0, 1.02),
        title="FROC",
    )
    for ax in (roc_ax, froc_ax):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    return _png(fig)
