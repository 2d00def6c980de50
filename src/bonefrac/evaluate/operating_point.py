"""Choose the confidence threshold a model operates at; write it into model_card.json beside the weights."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bonefrac.card.record import ModelCard, OperatingPoint, card_path_for, read_model_card, write_model_card
from bonefrac.errors import EvaluationError, ModelError
from bonefrac.evaluate import metrics as m
from bonefrac.evaluate.evaluator import PreparedEvaluation
from bonefrac.evaluate.record import OperatingChoice
from bonefrac.hashing import file_sha256

logger = logging.getLogger(__name__)

Rule = Literal["target-sensitivity", "max-f1", "card", "fixed"]
RULES: tuple[str, ...] = ("target-sensitivity", "max-f1", "card", "fixed")
CHOOSING_RULES: tuple[str, ...] = ("target-sensitivity", "max-f1")  # fit the threshold to the split's data
TEST_SPLIT = "test"
TEST_CHOICE_WARNING = (
    "WARNING: the operating point was chosen on the test split it is measured on; its sensitivity, "
    "specificity and box figures are optimistic (the threshold was fitted to these images)"
)


def threshold_for_sensitivity(
    scores: np.ndarray, positive: np.ndarray, target: float, floor: float
) -> tuple[float, bool]:
    """The highest threshold whose image-level sensitivity is >= target (so specificity is as high as it
    can be); (floor, False) when even the confidence floor misses it."""
    if not 0.0 < target <= 1.0:
        raise EvaluationError(f"target sensitivity must be in (0, 1], got {target}")
    positive_scores = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(positive, bool)])[::-1]
    if positive_scores.size == 0:
        raise EvaluationError("the split has no image with a ground-truth box; sensitivity is undefined")
    needed = math.ceil(target * positive_scores.size - 1e-9)
    candidate = float(positive_scores[needed - 1])
    if candidate < floor or candidate <= 0.0:
        return float(floor), False
    return candidate, True


def threshold_for_max_f1(prepared: PreparedEvaluation, floor: float) -> float:
    """The detection score at which box-level F1 (IoU >= settings.iou, all classes) is highest."""
    thresholds, f1 = m.box_f1_curve(prepared.pooled, prepared.settings.iou)
    if thresholds.size == 0 or f1.max() <= 0:
        return float(floor)
    return float(thresholds[int(np.argmax(f1))])


def choose_operating_point(
    prepared: PreparedEvaluation,
    rule: str,
    *,
    split: str,
    conf_floor: float,
    target_sensitivity: float = 0.9,
    fixed_threshold: float | None = None,
    card_path: Path | None = None,
) -> OperatingChoice:
    """Apply a rule: target-sensitivity, max-f1, card (the threshold already in the card), fixed."""
    if rule == "target-sensitivity":
        threshold, reached = threshold_for_sensitivity(
            prepared.scores, prepared.positive, target_sensitivity, conf_floor
        )
        note = (
            ""
            if reached
            else (
                f"target sensitivity {target_sensitivity} not reached at any threshold >= {conf_floor}; "
                "using the confidence floor"
            )
        )
        if note:
            logger.warning(note)
        return OperatingChoice(
            threshold=threshold,
            rule=f"target_sensitivity={target_sensitivity:g}",
            split=split,
            reached=reached,
            note=note,
        )
    if rule == "max-f1":
        return OperatingChoice(
            threshold=threshold_for_max_f1(prepared, conf_floor), rule="max_f1", split=split
        )
    if rule == "fixed":
        if fixed_threshold is None or not 0.0 <= fixed_threshold <= 1.0:
            raise EvaluationError(f"rule 'fixed' needs --threshold in [0, 1], got {fixed_threshold}")
        return OperatingChoice(threshold=float(fixed_threshold), rule="fixed", split=split)
    if rule == "card":
        if card_path is None or not card_path.is_file():
            raise EvaluationError(
                f"rule 'card' uses the threshold in model_card.json beside the weights, but {card_path} "
                "does not exist; choose one first (e.g. on the val split with --rule target-sensitivity)"
            )
        point = read_model_card(card_path).operating_point
        return OperatingChoice(
            threshold=point.threshold, rule=point.rule, split=point.split, note=f"from {card_path}"
        )
    raise EvaluationError(f"unknown operating-point rule {rule!r}; choose one of {', '.join(RULES)}")


def chosen_card_point(card_path: Path) -> OperatingPoint | None:
    """The card's operating point when one was chosen on data (not the export's placeholder "default")."""
    if not card_path.is_file():
        return None
    point = read_model_card(card_path).operating_point
    return None if point.rule == "default" else point


def resolve_rule(rule: str, card_path: Path, *, write_card: bool) -> str:
    """`auto` becomes `card` when the card beside the weights holds a chosen operating point and nothing is
    to be written into it, else `target-sensitivity`; any other rule is returned as given."""
    if rule != "auto":
        return rule
    if not write_card and chosen_card_point(card_path) is not None:
        return "card"
    return "target-sensitivity"


def check_test_choice(
    requested: str, rule: str, *, split: str, two_tier: bool, force: bool, card_path: Path
) -> str | None:
    """Refuse to choose an operating point on the test split (its numbers would be optimistic) unless
    forced; forced, return the warning to show. `requested` is the rule as given, `rule` as resolved."""
    chosen = []
    if split == TEST_SPLIT and rule in CHOOSING_RULES:
        chosen.append(
            f"--rule {requested}" + (f" (as {rule}: {_why_auto(card_path)})" if requested == "auto" else "")
        )
    if split == TEST_SPLIT and two_tier and rule != "card":
        chosen.append("--two-tier (it chooses both tiers)")
    if not chosen:
        return None
    if force:
        logger.warning(TEST_CHOICE_WARNING)
        return TEST_CHOICE_WARNING
    raise EvaluationError(
        f"refusing to choose an operating point on the test split with {' and '.join(chosen)}: a "
        "threshold fitted to the images it is measured on gives optimistic numbers. Accepted instead: choose "
        "on val and write it into the card (--split val --write-card), then measure the card's point on "
        "test (--rule card); or give the threshold (--rule fixed --threshold T); or pass "
        "--force-test-choice to choose on test anyway (with a warning)"
    )


def _why_auto(card_path: Path) -> str:
    if chosen_card_point(card_path) is not None:
        return "--write-card asks for a new choice"
    if not card_path.is_file():
        return f"no {card_path.name} beside the weights ({card_path})"
    return f"{card_path} holds no chosen operating point (rule 'default')"


def write_operating_point(
    weights: Path,
    choice: OperatingChoice,
    *,
    sensitivity: float | None,
    specificity: float | None,
    class_names: tuple[str, ...],
    input_size: int | None,
    summary: dict[str, Any],
    dataset_fingerprint: str | None = None,
) -> Path:
    """Set the operating point (and an evaluation summary) in model_card.json beside `weights`.

    An existing card is updated; without one a minimal card is created. A card that names another
    weights file (by sha256) is refused rather than overwritten.
    """
    path = card_path_for(weights)
    digest = file_sha256(weights)
    point = OperatingPoint(
        threshold=choice.threshold,
        rule=choice.rule,
        split=choice.split,
        sensitivity=_finite(sensitivity),
        specificity=_finite(specificity),
    )
    if path.is_file():
        card = read_model_card(path)
        int8_sha: str | None = (card.quantization or {}).get("sha256")
        described = (card.weights_sha256, card.source_weights_sha256, int8_sha)
        known = {sha for sha in described if sha is not None}
        if int8_sha is not None and digest in known:
            logger.warning(
                "%s is shared by the float and int8 models; its operating point now comes from %s",
                path,
                Path(weights).name,
            )
        if known and digest not in known:
            raise ModelError(
                f"{path} describes another weights file (sha256 {sorted(known)[0][:12]}...), not "
                f"{Path(weights).name} ({digest[:12]}...); evaluate without --write-card or move the card"
            )
        if list(card.class_names) != list(class_names):
            raise ModelError(
                f"{path} lists classes {card.class_names}, but the model predicts {list(class_names)}"
            )
        metrics = dict(card.metrics)
        metrics["evaluation"] = summary
        card = card.model_copy(update={"operating_point": point, "metrics": metrics})
    else:
        card = ModelCard(
            name=Path(weights).stem,
            version="0",
            class_names=list(class_names),
            input_size=int(input_size or 640),
            operating_point=point,
            metrics={"evaluation": summary},
            dataset_fingerprint=dataset_fingerprint,
            weights_sha256=digest,
        )
    return write_model_card(card, path)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
