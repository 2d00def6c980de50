"""MODEL_CARD.md: the readable model card, rendered from the evidence instead of typed by hand.

The evidence is model_card.json (what export and evaluate wrote), the test-split eval.json evaluated at the
card's operating point, optionally the val eval.json that chose that point, an int8 test eval.json and the
training run folder. Every number in the document comes from those files, so it cannot drift from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bonefrac.card.record import CARD_FILENAME, ModelCard, read_model_card, write_model_card
from bonefrac.errors import ModelError
from bonefrac.train.metrics_files import read_epoch_rows

FRACATLAS_CREDIT = (
    "FracAtlas: Abedeen, I., Rahman, M. A., Prottyasha, F. Z. et al. FracAtlas: A Dataset for Fracture "
    "Classification, Localization and Segmentation of Musculoskeletal Radiographs. Scientific Data 10, 521 "
    "(2023), https://doi.org/10.1038/s41597-023-02432-4. Licensed CC BY 4.0."
)
EVAL_FORMAT = "bonefrac.eval/1"
MARKDOWN_FILENAME = "MODEL_CARD.md"


@dataclass(frozen=True)
class AnchorResult:
    """A reference result the shipped model is compared with (measured outside this project)."""

    description: str
    map50: float
    map50_95: float
    precision: float
    recall: float


# Issue 8's anchor (FracAtlas test split). Its precision/recall are ultralytics' (at its max-F1 confidence).
ISSUE8_ANCHOR = AnchorResult(
    description="plain ultralytics YOLO11n from yolo11n.yaml, default hyperparameters, imgsz 640, batch 32, "
    "7.25 min on one H200 GPU (39 epochs)",
    map50=0.103,
    map50_95=0.034,
    precision=0.30,
    recall=0.20,
)


@dataclass(frozen=True)
class TrainingSummary:
    """What a training run folder says about how the model was made."""

    run_dir: str
    model: str
    imgsz: int
    batch: int
    epochs_done: int
    wall_hours: float
    budget_hours: float | None
    device: str
    cpu_count: int | None
    torch_threads: int | None
    train_positives: int | None
    train_backgrounds: int | None
    background_ratio: float | None
    drop_val_duplicates: bool
    best_epoch: int | None
    best_val_map50: float | None
    best_val_map50_95: float | None
    git_sha: str | None
    config: dict[str, Any]


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{what} not found: {path}") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{what} {path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{what} {path} should hold a JSON object, got {type(data).__name__}")
    return data


def read_eval(path: Path) -> dict[str, Any]:
    """An eval.json from `bonefrac evaluate`; ModelError when it is something else."""
    data = _read_json(path, "evaluation")
    if data.get("format") != EVAL_FORMAT:
        raise ModelError(
            f"{path} is not a `bonefrac evaluate` result (expected format {EVAL_FORMAT!r}, "
            f"got {data.get('format')!r})"
        )
    return data


def read_training_summary(run_dir: Path) -> TrainingSummary:
    """Summarise a `bonefrac train` run folder (config.yaml, environment.json, dataset.json, results.csv)."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise ModelError(f"{run_dir} is not a bonefrac run folder (no config.yaml in it)")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    env = (
        _read_json(run_dir / "environment.json", "run environment")
        if (run_dir / "environment.json").is_file()
        else {}
    )
    dataset = (
        _read_json(run_dir / "dataset.json", "run data set") if (run_dir / "dataset.json").is_file() else {}
    )
    rows = read_epoch_rows(run_dir / "results.csv")
    if not rows:
        raise ModelError(f"{run_dir}/results.csv holds no finished epoch; train the model first")
    scored = [r for r in rows if "map50_95" in r]
    best = max(scored, key=lambda r: 0.9 * r["map50_95"] + 0.1 * r.get("map50", 0.0)) if scored else None
    subset = config.get("subset") or {}
    return TrainingSummary(
        run_dir=str(run_dir),
        model=str(config.get("model")),
        imgsz=int(config.get("imgsz", 0)),
        batch=int(config.get("batch", 0)),
        epochs_done=len(rows),
        wall_hours=float(rows[-1].get("time", 0.0)) / 3600.0,
        budget_hours=config.get("budget_hours"),
        device=str(env.get("device", config.get("device"))),
        cpu_count=env.get("cpu_count"),
        torch_threads=env.get("torch_threads"),
        train_positives=dataset.get("train_positives"),
        train_backgrounds=dataset.get("train_backgrounds"),
        background_ratio=config.get("background_ratio"),
        drop_val_duplicates=bool(subset.get("drop_duplicates_of_train")),
        best_epoch=int(best["epoch"]) if best else None,
        best_val_map50=best.get("map50") if best else None,
        best_val_map50_95=best.get("map50_95") if best else None,
        git_sha=env.get("git_sha"),
        config=config,
    )


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"


def _value(entry: Any) -> float | None:
    if isinstance(entry, dict):
        entry = entry.get("value")
    return None if entry is None else float(entry)


def fmt(entry: Any, digits: int = 3) -> str:
    """A metric entry as 'value [low, high]' (or 'n/a')."""
    value = _value(entry)
    if value is None or value != value:  # NaN
        return "n/a"
    text = f"{value:.{digits}f}"
    ci = entry.get("ci95") if isinstance(entry, dict) else None
    if ci and None not in ci:
        text += f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    return text


def card_test_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The test numbers model_card.json carries (values and 95 % intervals)."""
    keep = {
        "mAP50": result["box"]["mAP50"],
        "mAP50_95": result["box"]["mAP50_95"],
        "precision": result["box"]["precision"],
        "recall": result["box"]["recall"],
        "auroc": result["image"]["auroc"],
        "sensitivity": result["image"]["sensitivity"],
        "specificity": result["image"]["specificity"],
        "froc_score": result["froc"]["score"],
    }
    return {
        "split": result["data"]["split"],
        "threshold": result["operating_point"]["threshold"],
        "images": result["counts"]["images"],
        "positive_images": result["counts"]["positive_images"],
        "dataset_fingerprint": result["data"]["fingerprint"],
        **{k: {"value": _value(v), "ci95": v.get("ci95")} for k, v in keep.items()},
    }


def derive_limitations(test: dict[str, Any], training: TrainingSummary | None) -> list[str]:
    """Known limits, each backed by a number in the evidence."""
    limits: list[str] = []
    sizes = test.get("by_size") or {}
    if {"small", "medium", "large"} <= set(sizes):
        parts = [
            f"{name} {fmt(sizes[name]['recall'], 2)} ({_count(sizes[name]['boxes'], 'box', 'boxes')})"
            for name in ("small", "medium", "large")
        ]
        recalls = {name: _value(sizes[name]["recall"]) or 0.0 for name in ("small", "medium", "large")}
        hardest = (
            " Small boxes are the hardest."
            if recalls["small"] < min(recalls["medium"], recalls["large"])
            else ""
        )
        limits.append(
            f"Box recall by box size at the operating point (small: under "
            f"{sizes['limits']['small'].split('<')[-1].strip()}): {'; '.join(parts)}.{hardest}"
        )
    groups = (test.get("by_metadata") or {}).get("groups") or {}
    with_fractures = {name: g for name, g in groups.items() if g.get("positive_images", 0) > 0}
    if with_fractures:
        few = sorted(name for name, g in with_fractures.items() if g["positive_images"] < 10)
        text = "; ".join(
            f"{name} {fmt(g['image.sensitivity'], 2)} ({_count(g['positive_images'], 'fractured image')})"
            for name, g in sorted(with_fractures.items())
        )
        limits.append(
            f"Image sensitivity by body region at the operating point: {text}."
            + (
                f" Groups with under 10 fractured test images ({', '.join(few)}) are barely measured."
                if few
                else ""
            )
        )
    limits.append(
        f"Measured on {test['counts']['images']} FracAtlas test images ({test['counts']['positive_images']} "
        "with a fracture), all from the same hospitals and scanners as the training data; it has not been "
        "validated on any other population, scanner, age group or image pipeline."
    )
    if training is not None and training.device == "cpu":
        budget = ""
        if training.budget_hours:
            budget = f", stopped by its {training.budget_hours} h wall-clock budget"
        limits.append(
            f"Trained on CPU only ({training.cpu_count} cores, {training.wall_hours:.2f} h, "
            f"{training.epochs_done} epochs at {training.imgsz} px) from random weights{budget}; longer "
            "training (for example a GPU run of the same pipeline) may well do better."
        )
    limits.append(
        "One class only (`fractured`): no fracture type, no displacement, no other findings. An image "
        "without a box is not evidence that there is no fracture."
    )
    return limits


def _metrics_table(test: dict[str, Any], int8: dict[str, Any] | None, int8_shipped: bool) -> list[str]:
    rows = [
        ("Box mAP50", lambda r: r["box"]["mAP50"]),
        ("Box mAP50-95", lambda r: r["box"]["mAP50_95"]),
        ("Box precision at the operating point", lambda r: r["box"]["precision"]),
        ("Box recall at the operating point", lambda r: r["box"]["recall"]),
        ("Image AUROC", lambda r: r["image"]["auroc"]),
        ("Image sensitivity at the operating point", lambda r: r["image"]["sensitivity"]),
        ("Image specificity at the operating point", lambda r: r["image"]["specificity"]),
        ("FROC score (mean sensitivity at 1/8 .. 8 FP per image)", lambda r: r["froc"]["score"]),
    ]
    header = "| Metric (95 % bootstrap interval) | fp32 model.onnx |" + (
        (" int8 model.int8.onnx |" if int8_shipped else " int8 (measured, not shipped) |") if int8 else ""
    )
    lines = [header, "|---|---|" + ("---|" if int8 else "")]
    for label, pick in rows:
        line = f"| {label} | {fmt(pick(test))} |"
        if int8:
            line += f" {fmt(pick(int8))} |"
        lines.append(line)
    return lines


def _froc_lines(test: dict[str, Any]) -> list[str]:
    points = test["froc"].get("points") or []
    if not points:
        return []
    head = "| False positives per image | " + " | ".join(f"{p['fp_per_image']:g}" for p in points) + " |"
    sep = "|---|" + "---|" * len(points)
    row = "| Lesion sensitivity | " + " | ".join(fmt(p["sensitivity"], 2) for p in points) + " |"
    return [head, sep, row]


def render_model_card(
    card: ModelCard,
    test: dict[str, Any],
    *,
    val: dict[str, Any] | None = None,
    int8_test: dict[str, Any] | None = None,
    training: TrainingSummary | None = None,
    anchor: AnchorResult | None = None,
    pt_test: dict[str, Any] | None = None,
) -> str:
    """The Markdown model card (pt_test: a test eval.json of the source .pt, for ultralytics' own figures)."""
    op = card.operating_point
    lines = [
        f"# Model card: {card.name} {card.version}",
        "",
        "> **Research and demonstration only. Not a medical device; not for clinical decisions.** "
        "Every detection needs a qualified reader.",
        "",
        "This file is generated by `bonefrac model-card` from model_card.json and the evaluation results; "
        "do not edit it by hand.",
        "",
        "## What it is",
        f"- A YOLO11 object detector that draws boxes around `{'`, `'.join(card.class_names)}` regions on "
        f"radiographs, exported to ONNX at {card.input_size} x {card.input_size} px (`model.onnx`, "
        f"sha256 `{card.weights_sha256}`).",
        f"- Intended use: {card.intended_use}",
    ]
    q = card.quantization or {}
    if q.get("shipped") is False:
        lines.append(
            f"- An int8 variant (static QDQ, {q.get('speedup')}x the fp32 session speed at "
            f"{q.get('threads')} threads) was measured and **not shipped**: {q.get('decision')}."
        )
    elif q:
        lines.append(
            f"- `model.int8.onnx`: the same model statically quantized to int8 (sha256 `{q.get('sha256')}`), "
            f"{q.get('speedup')}x the fp32 session speed at {q.get('threads')} threads on the machine that "
            "exported it" + (f"; {q['decision']}" if q.get("decision") else "") + "."
        )
    lines += ["", "## Data and credit", f"- {card.data_credit or FRACATLAS_CREDIT}"]
    lines.append(
        "- Splits are FracAtlas's own train/val/test. Val images that are re-encoded copies of train "
        "images were dropped (`bonefrac data subset --drop-duplicates-of-train`) before choosing the best "
        "epoch and the operating point; the test split was used only for the numbers below."
    )
    if training is not None:
        bg = (
            f"{training.train_positives} fracture images plus {training.train_backgrounds} background images "
            f"(a seeded {training.background_ratio:.0%} of them)"
            if training.background_ratio is not None
            else f"{training.train_positives} fracture and {training.train_backgrounds} background images"
        )
        lines += [
            "",
            "## How it was trained",
            f"- `bonefrac train` from `{training.model}` (random initial weights; nothing pretrained was "
            f"downloaded), on {bg}, at {training.imgsz} px, batch {training.batch}.",
            f"- Device: **{training.device}**"
            + (
                f" ({training.cpu_count} cores, {training.torch_threads} torch threads)"
                if training.device == "cpu"
                else ""
            )
            + f"; {training.epochs_done} epochs in {training.wall_hours:.2f} h"
            + (f" (wall-clock budget {training.budget_hours} h)" if training.budget_hours else "")
            + ".",
            f"- Best epoch {training.best_epoch}: val mAP50 {training.best_val_map50:.3f}, mAP50-95 "
            f"{training.best_val_map50_95:.3f} (ultralytics' own val, de-duplicated val split)."
            if training.best_epoch is not None
            else "- No validation metrics were recorded.",
            f"- Recipe: cell `{training.config.get('cell') or Path(training.run_dir).name}` in "
            f"`configs/experiments/{training.config.get('experiment')}.yaml`"
            + (f", code at git {training.git_sha[:10]}" if training.git_sha else "")
            + ".",
        ]
    lines += [
        "",
        "## Operating point",
        f"- Default threshold **{op.threshold:.4f}** (rule `{op.rule}`, chosen on the {op.split} split"
        + (
            f": image sensitivity {op.sensitivity:.3f}, specificity {op.specificity:.3f} there"
            if op.sensitivity is not None and op.specificity is not None
            else ""
        )
        + "). The service, `bonefrac predict` and the UI use it unless told otherwise.",
    ]
    if val is not None:
        lines.append(
            f"- Val ({val['counts']['images']} images, {val['counts']['positive_images']} fractured): "
            f"image AUROC {fmt(val['image']['auroc'])}, box mAP50 {fmt(val['box']['mAP50'])}."
        )
    lines += [
        "",
        f"## Results on the FracAtlas test split ({test['counts']['images']} images, "
        f"{test['counts']['positive_images']} fractured, {test['counts']['boxes']} boxes)",
        "",
        *_metrics_table(test, int8_test, q.get("shipped") is not False),
        "",
        "Box metrics count a detection as correct at IoU >= 0.5 (mAP50-95: averaged over IoU 0.5 .. 0.95, "
        "COCO 101-point). Image metrics score each image by its most confident box.",
        "",
        *_froc_lines(test),
    ]
    if anchor is not None:
        ultra = ((pt_test or {}).get("box") or {}).get("ultralytics") or {}
        ours = f"mAP50 {fmt(test['box']['mAP50'])}, mAP50-95 {fmt(test['box']['mAP50_95'])}"
        if "mAP50" in ultra and pt_test is not None:
            ours += (
                f"; ultralytics' own val on its .pt at {pt_test['model']['imgsz']} px: "
                f"mAP50 {ultra['mAP50']:.3f}, mAP50-95 {ultra['mAP50_95']:.3f}, "
                f"precision {ultra['precision']:.2f}, recall {ultra['recall']:.2f}"
            )
        lines += [
            "",
            "## Compared with the anchor",
            f"The anchor is {anchor.description}: test mAP50 {anchor.map50:.3f}, mAP50-95 "
            f"{anchor.map50_95:.3f}, precision {anchor.precision:.2f}, recall {anchor.recall:.2f} "
            f"(ultralytics' own val). This model: {ours}. The budgets differ (see bench/RESULTS.md): a "
            "same-budget GPU comparison is declared in configs/experiments/default_model.yaml.",
        ]
    lines += ["", "## Known limits"]
    lines += [f"- {text}" for text in (card.limitations or derive_limitations(test, training))]
    lines += [
        "",
        "## Reproduce",
        "`scripts/ship_default_model.sh RUN_DIR` retrains nothing: it exports, evaluates and re-renders this "
        "card from a run folder. Training: `bonefrac experiment run` on the recipe above (docs/train.md).",
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class PublishedCard:
    card_path: Path
    markdown_path: Path
    card: ModelCard


def _check_same_model(result: dict[str, Any], sha256: str | None, what: str, path: Path) -> None:
    evaluated = (result.get("model") or {}).get("sha256")
    if sha256 is None or evaluated != sha256:
        raise ModelError(
            f"{path} evaluated a model with sha256 {str(evaluated)[:12]}..., but {what} has "
            f"{str(sha256)[:12]}...; evaluate the shipped file again"
        )


def publish_model_card(
    model_dir: Path,
    test_eval: Path,
    *,
    val_eval: Path | None = None,
    int8_test_eval: Path | None = None,
    run_dir: Path | None = None,
    name: str | None = None,
    version: str | None = None,
    anchor: AnchorResult | None = None,
    pt_test_eval: Path | None = None,
    int8_max_map50_drop: float = 0.01,
) -> PublishedCard:
    """Fold the test results into model_card.json (name, version, credit, limits) and write MODEL_CARD.md.

    The eval files must describe the files in model_dir (same sha256) and the test run must have used the
    card's operating point (`bonefrac evaluate --rule card`). An int8 model whose test mAP50 falls more than
    `int8_max_map50_drop` below the fp32 model's is removed from model_dir; the card says why.
    """
    model_dir = Path(model_dir)
    card_path = model_dir / CARD_FILENAME
    card = read_model_card(card_path)
    test = read_eval(test_eval)
    _check_same_model(test, card.weights_sha256, f"{card_path} (model.onnx)", Path(test_eval))
    used = float(test["operating_point"]["threshold"])
    if abs(used - card.operating_point.threshold) > 1e-9:
        raise ModelError(
            f"{test_eval} used threshold {used:.6f}, the card's operating point is "
            f"{card.operating_point.threshold:.6f}; evaluate the test split with --rule card"
        )
    val = read_eval(val_eval) if val_eval is not None else None
    int8 = None
    if int8_test_eval is not None:
        int8 = read_eval(int8_test_eval)
        _check_same_model(
            int8, (card.quantization or {}).get("sha256"), f"{card_path} (int8)", int8_test_eval
        )
    pt_test = read_eval(pt_test_eval) if pt_test_eval is not None else None
    if pt_test is not None:
        _check_same_model(pt_test, card.source_weights_sha256, f"{card_path} (source .pt)", pt_test_eval)
    training = read_training_summary(run_dir) if run_dir is not None else None
    metrics = dict(card.metrics)
    metrics["test"] = card_test_summary(test)
    quantization = card.quantization
    if int8 is not None and quantization is not None:
        metrics["test_int8"] = card_test_summary(int8)
        fp32_map, int8_map = _value(test["box"]["mAP50"]) or 0.0, _value(int8["box"]["mAP50"]) or 0.0
        kept = fp32_map - int8_map <= int8_max_map50_drop
        comparison = (
            f"test mAP50 {int8_map:.3f} against {fp32_map:.3f} for fp32 "
            f"(allowed drop {int8_max_map50_drop:.3f})"
        )
        quantization = {**quantization, "shipped": kept, "decision": comparison}
        int8_file = model_dir / str(quantization.get("file") or "model.int8.onnx")
        if not kept and int8_file.exists():
            int8_file.unlink()
    card = card.model_copy(
        update={
            "quantization": quantization,
            "name": name or card.name,
            "version": version or card.version,
            "data_credit": card.data_credit or FRACATLAS_CREDIT,
            "metrics": metrics,
            "limitations": derive_limitations(test, training),
        }
    )
    card = ModelCard.model_validate(card.model_dump())
    write_model_card(card, card_path)
    markdown = render_model_card(
        card, test, val=val, int8_test=int8, training=training, anchor=anchor, pt_test=pt_test
    )
    markdown_path = model_dir / MARKDOWN_FILENAME
    markdown_path.write_text(markdown, encoding="utf-8")
    return PublishedCard(card_path, markdown_path, card)
