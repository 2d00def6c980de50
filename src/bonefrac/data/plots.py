"""Matplotlib figures for the EDA report, each returned as PNG bytes (matplotlib is imported lazily)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from bonefrac.errors import ConfigError
from bonefrac.records import SplitStats

SPLIT_COLOURS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError(
            "the HTML report draws its plots with matplotlib: pip install 'bonefrac[report]'"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def _colour(split: str) -> str:
    return SPLIT_COLOURS.get(split, "#7f7f7f")


def class_counts(splits: Mapping[str, SplitStats]) -> bytes:
    """Boxes per class per split (left) and images with boxes vs backgrounds per split (right)."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    names = list(next(iter(splits.values())).boxes_per_class) if splits else []
    width = 0.8 / max(1, len(splits))
    for k, (split, stats) in enumerate(splits.items()):
        x = np.arange(len(names)) + k * width
        bars = left.bar(
            x, [stats.boxes_per_class[n] for n in names], width, label=split, color=_colour(split)
        )
        left.bar_label(bars, fontsize=8)
    left.set_xticks(np.arange(len(names)) + width * (len(splits) - 1) / 2, names)
    left.set_title("boxes per class")
    left.legend()
    labels = list(splits)
    positives = [s.with_boxes for s in splits.values()]
    backgrounds = [s.backgrounds for s in splits.values()]
    right.bar(labels, positives, label="with boxes", color="#d62728")
    right.bar(labels, backgrounds, bottom=positives, label="background", color="#bbbbbb")
    for i, stats in enumerate(splits.values()):
        right.text(i, stats.images, f"{stats.background_share:.0%} bg", ha="center", va="bottom", fontsize=9)
    right.set_title("images: with boxes vs background")
    right.legend()
    fig.tight_layout()
    return _png(fig)


def boxes_per_image(per_image: Mapping[str, np.ndarray]) -> bytes:
    """Histogram of the number of boxes on each image, per split (share of the split's images)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    top = int(max((a.max() for a in per_image.values() if a.size), default=0))
    bins = np.arange(top + 2) - 0.5
    for split, counts in per_image.items():
        if counts.size:
            ax.hist(counts, bins=bins, histtype="step", linewidth=2, label=split, color=_colour(split),
                    weights=np.full(counts.size, 1 / counts.size))  # fmt: skip
    ax.set_xlabel("boxes on the image")
    ax.set_ylabel("share of images")
    ax.set_title("boxes per image")
    ax.legend()
    return _png(fig)


def box_shapes(boxes: Mapping[str, Mapping[str, np.ndarray]]) -> bytes:
    """Histograms of box width, height, area (share of the image) and aspect ratio, per split."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
    specs = [
        ("width", "width (share of image width)", False),
        ("height", "height (share of image height)", False),
        ("area", "area (share of image, log)", True),
        ("aspect", "aspect w/h in pixels (log)", True),
    ]
    for ax, (key, title, log_scale) in zip(axes, specs, strict=True):
        values = [v[key] for v in boxes.values() if v[key].size]
        if not values:
            ax.set_title(f"{title}: no boxes")
            continue
        joined = np.concatenate(values)
        if log_scale:
            positive = joined[joined > 0]
            bins = np.geomspace(positive.min(), positive.max() * 1.0001, 30) if positive.size else 30
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(_pyplot().NullFormatter())
        else:
            bins = np.linspace(0, max(joined.max(), 1e-3), 30)
        for split, v in boxes.items():
            if v[key].size:
                ax.hist(v[key], bins=bins, histtype="step", linewidth=1.8, label=split, color=_colour(split),
                        weights=np.full(v[key].size, 1 / v[key].size))  # fmt: skip
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("share of boxes")
    axes[0].legend()
    fig.tight_layout()
    return _png(fig)


def centre_heatmap(boxes: Mapping[str, Mapping[str, np.ndarray]]) -> bytes:
    """Where box centres fall on the image (all splits together), 20x20 cells."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 4))
    cx = np.concatenate([v["cx"] for v in boxes.values()]) if boxes else np.zeros(0)
    cy = np.concatenate([v["cy"] for v in boxes.values()]) if boxes else np.zeros(0)
    heat, _, _ = np.histogram2d(cy, cx, bins=20, range=[[0, 1], [0, 1]])
    shown = ax.imshow(heat, extent=(0, 1, 1, 0), cmap="magma", interpolation="nearest")
    fig.colorbar(shown, ax=ax, label="boxes")
    ax.set_xlabel("centre x (share of width)")
    ax.set_ylabel("centre y (share of height)")
    ax.set_title(f"box centres ({cx.size} boxes)")
    return _png(fig)


def image_sizes(sizes: Mapping[str, np.ndarray]) -> bytes:
    """Image width vs height in pixels, per split (marker area grows with how many images share a size)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for split, wh in sizes.items():
        if wh.size == 0:
            continue
        unique, counts = np.unique(wh, axis=0, return_counts=True)
        ax.scatter(unique[:, 0], unique[:, 1], s=10 + 200 * counts / counts.max(), alpha=0.5, label=split,
                   color=_colour(split))  # fmt: skip
    ax.set_xlabel("width (px)")
    ax.set_ylabel("height (px)")
    ax.set_title("image sizes")
    ax.legend()
    return _png(fig)
