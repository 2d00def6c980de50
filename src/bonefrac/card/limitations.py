"""The card's known limits, each backed by a number in the evidence (the test evaluation, the run folder)."""

from __future__ import annotations

from bonefrac.card.text import count, fmt
from bonefrac.card.training import TrainingSummary
from bonefrac.evaluate.record import EvalReport

FEW_FRACTURED_IMAGES = 10


def derive_limitations(test: EvalReport, training: TrainingSummary | None) -> list[str]:
    """Recall by box size, sensitivity by group, where it was measured and trained, what it cannot do."""
    limits: list[str] = []
    sizes = test.by_size.sizes()
    parts = [f"{name} {fmt(s.recall, 2)} ({count(s.boxes, 'box', 'boxes')})" for name, s in sizes.items()]
    recalls = {name: s.recall.value or 0.0 for name, s in sizes.items()}
    hardest = (
        " Small boxes are the hardest." if recalls["small"] < min(recalls["medium"], recalls["large"]) else ""
    )
    limits.append(
        f"Box recall by box size at the operating point (small: under "
        f"{test.by_size.limits.small.split('<')[-1].strip()}): {'; '.join(parts)}.{hardest}"
    )
    groups = test.by_metadata.groups if test.by_metadata is not None else {}
    with_fractures = {name: g for name, g in groups.items() if g.positive_images > 0}
    if with_fractures:
        few = sorted(name for name, g in with_fractures.items() if g.positive_images < FEW_FRACTURED_IMAGES)
        text = "; ".join(
            f"{name} {fmt(g.sensitivity, 2)} ({count(g.positive_images, 'fractured image')})"
            for name, g in sorted(with_fractures.items())
        )
        limits.append(
            f"Image sensitivity by body region at the operating point: {text}."
            + (
                f" Groups with under {FEW_FRACTURED_IMAGES} fractured test images ({', '.join(few)}) are "
                "barely measured."
                if few
                else ""
            )
        )
    two = test.two_tier
    if two is not None:
        sens, spec = two.high_sensitivity, two.high_specificity
        limits.append(
            f"At the high-sensitivity point {sens.confusion.fp} of {sens.confusion.fp + sens.confusion.tn} "
            f"normal test images are flagged (specificity {fmt(sens.specificity, 2)}) and "
            f"{sens.confusion.fn} of {sens.confusion.fn + sens.confusion.tp} fractured ones are missed; at "
            f"the high-specificity point {spec.confusion.fn} fractured images are missed "
            f"(sensitivity {fmt(spec.sensitivity, 2)})."
        )
    limits.append(
        f"Measured on {test.counts.images} FracAtlas test images ({test.counts.positive_images} "
        "with a fracture), all from the same hospitals and scanners as the training data; it has not been "
        "validated on any other population, scanner, age group or image pipeline."
    )
    if training is not None and training.device == "cpu":
        budget = ""
        if training.budget_hours and training.finished is False:
            budget = (
                f"; the run stopped at {training.wall_hours:.2f} h of its {training.budget_hours} h "
                "wall-clock budget, before its last epoch and final evaluation finished (the best epoch's "
                "weights ship)"
            )
        elif training.budget_hours:
            budget = f", stopped by its {training.budget_hours} h wall-clock budget"
        start = training.start or {}
        pretrained = start.get("init") == "pretrained"
        init = "from pretrained weights" if pretrained else "from random weights"
        limits.append(
            f"Trained on CPU only ({training.cpu_count} cores, {training.wall_hours:.2f} h, "
            f"{training.epochs_done} epochs at {training.imgsz} px) {init}{budget}; longer "
            "training and larger inputs (for example a GPU run of the same pipeline) may well do better."
        )
    limits.append(
        "One class only (`fractured`): no fracture type, no displacement, no other findings. An image "
        "without a box is not evidence that there is no fracture."
    )
    return limits
