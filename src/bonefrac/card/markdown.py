"""MODEL_CARD.md: the readable model card, rendered from the card record and the evaluations it describes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bonefrac.card.classifier import ClassifierCard
from bonefrac.card.limitations import derive_limitations
from bonefrac.card.record import ModelCard
from bonefrac.card.references import METRIC_LABELS, ReferenceResult, fused_auroc
from bonefrac.card.text import fmt
from bonefrac.card.training import ClassifierTraining, TrainingSummary
from bonefrac.card.two_tier import two_tier_lines
from bonefrac.evaluate.record import EvalReport, Metric

FRACATLAS_CREDIT = (
    "FracAtlas: Abedeen, I., Rahman, M. A., Prottyasha, F. Z. et al. FracAtlas: A Dataset for Fracture "
    "Classification, Localization and Segmentation of Musculoskeletal Radiographs. Scientific Data 10, 521 "
    "(2023), https://doi.org/10.1038/s41597-023-02432-4. Licensed CC BY 4.0."
)


def _metric_rows(test: EvalReport) -> list[tuple[str, Callable[[EvalReport], Metric]]]:
    fractured = (
        f"fractured test images only ({test.box_fractured_only.images}; the FracAtlas paper's test set)"
    )
    return [
        ("Box mAP50", lambda r: r.box.map50),
        ("Box mAP50-95", lambda r: r.box.map50_95),
        ("Box precision at the operating point", lambda r: r.box.precision),
        ("Box recall at the operating point", lambda r: r.box.recall),
        (f"Box mAP50, {fractured}", lambda r: r.box_fractured_only.map50),
        ("Box mAP50-95, fractured test images only", lambda r: r.box_fractured_only.map50_95),
        (
            "Box precision at the operating point, fractured test images only",
            lambda r: r.box_fractured_only.precision,
        ),
        ("Image AUROC", lambda r: r.image.auroc),
        ("Image sensitivity at the operating point", lambda r: r.image.sensitivity),
        ("Image specificity at the operating point", lambda r: r.image.specificity),
        ("FROC score (mean sensitivity at 1/8 .. 8 FP per image)", lambda r: r.froc.score),
    ]


def _metrics_table(test: EvalReport, int8: EvalReport | None, int8_shipped: bool) -> list[str]:
    header = "| Metric (95 % bootstrap interval) | fp32 model.onnx |" + (
        (" int8 model.int8.onnx |" if int8_shipped else " int8 (measured, not shipped) |") if int8 else ""
    )
    lines = [header, "|---|---|" + ("---|" if int8 else "")]
    for label, pick in _metric_rows(test):
        line = f"| {label} | {fmt(pick(test))} |"
        if int8:
            line += f" {fmt(pick(int8))} |"
        lines.append(line)
    return lines


def _froc_lines(test: EvalReport) -> list[str]:
    points = test.froc.points
    if not points:
        return []
    head = "| False positives per image | " + " | ".join(f"{p.fp_per_image:g}" for p in points) + " |"
    sep = "|---|" + "---|" * len(points)
    row = "| Lesion sensitivity | " + " | ".join(fmt(p.sensitivity, 2) for p in points) + " |"
    return [head, sep, row]


def _comparison_lines(
    test: EvalReport, references: Sequence[ReferenceResult], pt_test: EvalReport | None
) -> list[str]:
    """Each reference beside this model's number under the same protocol."""
    lines = [
        "",
        "## Compared with reference results",
        "Each result is set beside this model's number under the same protocol: box or image level, on all "
        f"{test.counts.images} test images or on the {test.box_fractured_only.images} fractured ones only. "
        "The references were measured by their authors with their own tools (YOLO results usually with "
        "ultralytics' interpolation); this model's numbers come from `bonefrac evaluate` (COCO 101-point "
        "AP, 95 % bootstrap intervals). Neither training budgets nor input sizes are equal: read this as "
        "context, not as a ranking.",
        "",
        "| Reference | Protocol | Its result | This model, same protocol |",
        "|---|---|---|---|",
    ]
    for reference in references:
        theirs = ", ".join(f"{METRIC_LABELS[k]} {v:.3f}" for k, v in reference.metrics.given().items())
        ours = ", ".join(f"{METRIC_LABELS[k]} {fmt(v)}" for k, v in reference.counterpart(test).items())
        if reference.level == "image" and fused_auroc(test) is not None:
            ours += f" (fused image score; the detector alone {fmt(test.image.auroc)})"
        lines.append(
            f"| {reference.model}: {reference.source} | {reference.protocol}; measured by "
            f"{reference.measured_by} | {theirs} | {ours} |"
        )
    notes = [f"- {r.model}: {r.note.rstrip('.')}." for r in references if r.note]
    ultra = pt_test.box.ultralytics if pt_test is not None else None
    if ultra is not None and ultra.map50 is not None and pt_test is not None:
        notes.append(
            f"- ultralytics' own val on this model's source .pt at {pt_test.model.imgsz} px, all test images "
            f"(the kind of number ultralytics-measured references give): mAP50 {ultra.map50:.3f}, "
            f"mAP50-95 {ultra.map50_95:.3f}, precision {ultra.precision:.2f}, recall {ultra.recall:.2f}."
        )
    return lines + ([""] + notes if notes else [])


def _training_lines(training: TrainingSummary) -> list[str]:
    bg = (
        f"{training.train_positives} fracture images plus {training.train_backgrounds} background images "
        f"(a seeded {training.background_ratio:.0%} of them)"
        if training.background_ratio is not None
        else f"{training.train_positives} fracture and {training.train_backgrounds} background images"
    )
    return [
        "",
        "## How it was trained",
        f"- `bonefrac train` {_start_text(training)}, on {bg}, at {training.imgsz} px, batch "
        f"{training.batch}. Nothing was downloaded.",
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


def _start_text(training: TrainingSummary) -> str:
    start = training.start or {}
    if start.get("init") != "pretrained":
        return f"from `{training.model}` (random initial weights)"
    name = Path(str(start.get("path") or training.model)).name
    credit = start.get("credit") or "a checkpoint bonefrac does not know (no credit recorded)"
    return f"from `{name}` (sha256 `{start.get('sha256')}`; {credit})"


def _what_it_is_lines(card: ModelCard, classifier: ClassifierCard | None) -> list[str]:
    lines = [
        "## What it is",
        f"- A YOLO object detector that draws boxes around `{'`, `'.join(card.class_names)}` regions on "
        f"radiographs, exported to ONNX at {card.input_size} x {card.input_size} px (`model.onnx`, "
        f"sha256 `{card.weights_sha256}`).",
    ]
    if card.classifier is not None:
        architecture = classifier.architecture if classifier else "a classifier"
        lines.append(
            f"- An image-level classifier (`{card.classifier.file}`, {architecture}"
            f" at {card.classifier.input_size} x {card.classifier.input_size} px, sha256 "
            f"`{card.classifier.sha256}`) gives each radiograph a fracture probability; it is fused with the "
            "detector's highest box confidence into the image score."
        )
    lines.append(f"- Intended use: {card.intended_use}")
    return lines + _int8_lines(card)


def _int8_lines(card: ModelCard) -> list[str]:
    q = card.quantization or {}
    kept_float = q.get("float_modules")
    mixed = f", modules {', '.join(kept_float)} kept in float" if kept_float else ""
    if q.get("shipped") is False:
        return [
            f"- An int8 variant (static QDQ{mixed}, {q.get('speedup')}x the fp32 session speed at "
            f"{q.get('threads')} threads) was measured and **not shipped**: {q.get('decision')}."
        ]
    if q:
        return [
            f"- `model.int8.onnx`: the same model statically quantized to int8{mixed} (sha256 "
            f"`{q.get('sha256')}`), {q.get('speedup')}x the fp32 session speed at {q.get('threads')} threads "
            "on the machine that quantized it" + (f"; {q['decision']}" if q.get("decision") else "") + "."
        ]
    return []


INT8_LINE_STARTS = ("- An int8 variant", "- `model.int8.onnx`")
TABLE_START = "| Metric (95 % bootstrap interval)"


def refresh_int8_sections(markdown: str, card: ModelCard, test: EvalReport, int8: EvalReport) -> str:
    """MODEL_CARD.md with only its int8 parts rendered anew (the int8 line under "What it is" and the test
    table), for a model quantized after its card was published; ValueError when the file lacks them."""
    lines = markdown.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(TABLE_START)]
    if len(starts) != 1:
        raise ValueError(f"expected one results table starting {TABLE_START!r}, found {len(starts)}")
    end = next((i for i in range(starts[0], len(lines)) if not lines[i].strip()), len(lines))
    table = _metrics_table(test, int8, (card.quantization or {}).get("shipped") is not False)
    lines[starts[0] : end] = table
    old = [i for i, line in enumerate(lines) if line.startswith(INT8_LINE_STARTS)]
    if old:
        lines[old[0] : old[0] + 1] = _int8_lines(card)
    else:
        intended = next(i for i, line in enumerate(lines) if line.startswith("- Intended use:"))
        lines[intended + 1 : intended + 1] = _int8_lines(card)
    return "\n".join(lines) + "\n"


def _classifier_lines(classifier: ClassifierCard, training: ClassifierTraining | None) -> list[str]:
    start = classifier.pretrained
    lines = [
        "",
        "## The image-level classifier",
        f"- `bonefrac classify train`: {classifier.architecture} from ImageNet weights "
        f"(`{start.get('file', 'unknown file')}`, sha256 `{start.get('sha256')}`; {start.get('credit')}), "
        "fine-tuned on FracAtlas image labels (fractured: the image has a box), grey radiographs repeated to "
        "three channels, letterboxed like the detector's input.",
    ]
    if training is not None:
        lines.append(
            f"- {training.train_images} train images ({training.train_fractured} fractured), each epoch "
            f"{training.epoch_images} drawn class-balanced; {training.imgsz} px, {training.epochs_done} "
            f"epochs in {training.wall_hours:.2f} h on CPU ({training.torch_threads} torch threads); best "
            f"epoch {training.best_epoch} by val AUROC ({training.val_auroc:.3f}, de-duplicated val)."
        )
    parity = classifier.metrics.get("export_parity") or {}
    if parity:
        lines.append(
            f"- ONNX export checked against the torch checkpoint: probabilities within "
            f"{parity.get('max_abs_difference', 0):.1e} on {parity.get('images')} images."
        )
    return lines


def render_model_card(
    card: ModelCard,
    test: EvalReport,
    *,
    val: EvalReport | None = None,
    int8_test: EvalReport | None = None,
    training: TrainingSummary | None = None,
    references: Sequence[ReferenceResult] = (),
    pt_test: EvalReport | None = None,
    classifier: ClassifierCard | None = None,
    classifier_training: ClassifierTraining | None = None,
) -> str:
    """The Markdown model card (pt_test: a test evaluation of the source .pt, for ultralytics' figures)."""
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
        *_what_it_is_lines(card, classifier),
        "",
        "## Data and credit",
        f"- {card.data_credit or FRACATLAS_CREDIT}",
        "- Splits are FracAtlas's own train/val/test. Val images that are re-encoded copies of train "
        "images were dropped (`bonefrac data subset --drop-duplicates-of-train`) before choosing the best "
        "epoch and the operating point; the test split was used only for the numbers below.",
    ]
    if training is not None:
        lines += _training_lines(training)
    if classifier is not None:
        lines += _classifier_lines(classifier, classifier_training)
    if card.operating_points is not None and test.two_tier is not None:
        lines += two_tier_lines(card.operating_points, test, val)
    lines += [
        "",
        "## Operating point" + (" of the single-threshold metrics" if card.operating_points else ""),
        f"- Default threshold **{op.threshold:.4f}** (rule `{op.rule}`, chosen on the {op.split} split"
        + (
            f": image sensitivity {op.sensitivity:.3f}, specificity {op.specificity:.3f} there"
            if op.sensitivity is not None and op.specificity is not None
            else ""
        )
        + (
            "). The single-threshold rows below (box precision and recall, the detector's image "
            "sensitivity and specificity) use it; the service, `bonefrac predict` and the UI answer at the "
            "two operating points above."
            if card.operating_points is not None
            else "). The service, `bonefrac predict` and the UI use it unless told otherwise."
        ),
    ]
    if val is not None:
        lines.append(
            f"- Val ({val.counts.images} images, {val.counts.positive_images} fractured): "
            f"image AUROC {fmt(val.image.auroc)}, box mAP50 {fmt(val.box.map50)}."
        )
    q = card.quantization or {}
    lines += [
        "",
        f"## Results on the FracAtlas test split ({test.counts.images} images, "
        f"{test.counts.positive_images} fractured, {test.counts.boxes} boxes)",
        "",
        *_metrics_table(test, int8_test, q.get("shipped") is not False),
        "",
        "Box metrics count a detection as correct at IoU >= 0.5 (mAP50-95: averaged over IoU 0.5 .. 0.95, "
        "COCO 101-point). On all test images, boxes on images without a fracture are false positives; the "
        "fractured-only rows leave those images out, as the FracAtlas paper's test set does (box recall is "
        "the same on both). Image metrics score each image by its most confident box.",
        "",
        *_froc_lines(test),
    ]
    if references:
        lines += _comparison_lines(test, references, pt_test)
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
