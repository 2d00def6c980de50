"""Reference results a model is compared with (reference_results.yaml, shipped in the package), and the
number of this model that belongs beside each: the same level (box or image) on the same images (all test
images, or only the fractured ones)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bonefrac.errors import ConfigError
from bonefrac.evaluate.record import EvalReport, Metric

REFERENCES_FILENAME = "reference_results.yaml"
BOX_KEYS = ("map50", "map50_95", "precision", "recall")
METRIC_LABELS = {
    "map50": "mAP50",
    "map50_95": "mAP50-95",
    "precision": "precision",
    "recall": "recall",
    "auroc": "AUROC",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferenceMetrics(_Frozen):
    """Published numbers, keyed as eval.json keys them."""

    map50: float | None = Field(None, ge=0.0, le=1.0)
    map50_95: float | None = Field(None, ge=0.0, le=1.0)
    precision: float | None = Field(None, ge=0.0, le=1.0)
    recall: float | None = Field(None, ge=0.0, le=1.0)
    auroc: float | None = Field(None, ge=0.0, le=1.0)

    def given(self) -> dict[str, float]:
        return {key: value for key, value in self.model_dump().items() if value is not None}


class ReferenceResult(_Frozen):
    """One published result and the protocol it was measured under."""

    key: str
    model: str
    source: str  # the citation, as text
    level: Literal["box", "image"]
    images: Literal["all", "fractured_only"]
    measured_by: str
    metrics: ReferenceMetrics
    note: str = ""

    @model_validator(mode="after")
    def _metrics_fit_the_level(self) -> ReferenceResult:
        given = set(self.metrics.given())
        allowed = set(BOX_KEYS) if self.level == "box" else {"auroc"}
        if not given or not given <= allowed:
            raise ValueError(
                f"a {self.level}-level reference takes {', '.join(sorted(allowed))}; got "
                f"{', '.join(sorted(given)) or 'no metric'}"
            )
        if self.level == "image" and self.images == "fractured_only":
            raise ValueError("an image-level result needs images without fractures: images must be 'all'")
        return self

    @property
    def protocol(self) -> str:
        images = "fractured test images only" if self.images == "fractured_only" else "all test images"
        return f"{self.level} level, {images}"

    def counterpart(self, report: EvalReport) -> dict[str, Metric]:
        """This model's numbers under the reference's protocol, for the metrics the reference gives."""
        if self.level == "image":
            return {"auroc": image_score_auroc(report)}
        box = report.box_fractured_only if self.images == "fractured_only" else report.box
        return {key: getattr(box, key) for key in self.metrics.given()}


def fused_auroc(report: EvalReport) -> Metric | None:
    """The fused image score's AUROC when the evaluation calls images by it, else None."""
    tiers = report.two_tier
    if tiers is not None and tiers.image_score == "fused":
        return tiers.auroc.fused
    return None


def image_score_auroc(report: EvalReport) -> Metric:
    """The AUROC of the score images are called by: the fused score when the evaluation measured one, else
    the detector's highest box confidence."""
    return fused_auroc(report) or report.image.auroc


class ReferenceResults(_Frozen):
    references: list[ReferenceResult]

    @model_validator(mode="after")
    def _unique_keys(self) -> ReferenceResults:
        keys = [r.key for r in self.references]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"reference keys must be unique; repeated: {', '.join(repeated)}")
        return self

    def get(self, key: str) -> ReferenceResult:
        for reference in self.references:
            if reference.key == key:
                return reference
        known = ", ".join(r.key for r in self.references)
        raise ConfigError(f"no reference result {key!r}; known: {known}")


def load_reference_results(path: Path | None = None) -> ReferenceResults:
    """The package's reference_results.yaml, or another file of the same shape."""
    where = str(path) if path is not None else f"bonefrac/card/{REFERENCES_FILENAME}"
    try:
        if path is None:
            text = resources.files("bonefrac.card").joinpath(REFERENCES_FILENAME).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read reference results {where}: {exc}") from exc
    try:
        return ReferenceResults.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ConfigError(
            f"{where} is not a reference-results file (expected 'references:' with key, model, source, "
            f"level, images, measured_by and metrics per entry): {problems}"
        ) from exc
