"""eval.json on disk: the one writer and the one reader of `EvalReport`, and finding the file in a folder."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from bonefrac.errors import EvaluationError
from bonefrac.evaluate.record import EVAL_FORMAT, OLD_EVAL_FORMATS, EvalReport

EVAL_FILENAME = "eval.json"
_SHOWN_PROBLEMS = 5


def write_eval_report(report: EvalReport, path: Path) -> Path:
    """Write the record as strict JSON ("format" first; undefined metrics are null)."""
    data = report.model_dump(mode="json")
    ordered = {"format": data.pop("format"), **data}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ordered, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def read_eval_report(path: Path) -> EvalReport:
    """Read and validate an eval.json; EvaluationError says what was expected and what arrived."""
    path = Path(path)
    expected = f"an eval.json written by `bonefrac evaluate` (format {EVAL_FORMAT!r})"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EvaluationError(f"evaluation not found: {path} (expected {expected})") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvaluationError(f"{path} is not readable JSON ({exc}); expected {expected}") from exc
    if not isinstance(data, dict):
        raise EvaluationError(f"{path} holds a JSON {type(data).__name__}; expected {expected}")
    found = data.get("format")
    if found in OLD_EVAL_FORMATS:
        raise EvaluationError(
            f"{path} has format {found!r}, written by an older bonefrac; this version reads {EVAL_FORMAT!r} "
            f"(typed metrics such as box.map50). Evaluate again: `bonefrac evaluate ... --predictions "
            f"{path.parent / 'predictions.json'}` reuses its predictions without running the model"
        )
    if found != EVAL_FORMAT:
        got = "no 'format' key" if found is None else f"format {found!r}"
        raise EvaluationError(f"{path} is not a bonefrac eval.json: expected {expected}, got {got}")
    try:
        return EvalReport.model_validate(data)
    except ValidationError as exc:
        raise EvaluationError(f"{path} is not a valid {EVAL_FORMAT} file: {_problems(exc)}") from exc


def _problems(exc: ValidationError) -> str:
    """'box.map50: Field required; seconds: Input should be a valid number (got 'x')' and a count."""
    errors = exc.errors()
    parts = []
    for error in errors[:_SHOWN_PROBLEMS]:
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        got = "" if error["type"] == "missing" else f" (got {_short(error.get('input'))})"
        parts.append(f"{where}: {error['msg']}{got}")
    more = len(errors) - _SHOWN_PROBLEMS
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def find_eval_json(path: Path) -> Path:
    """An eval.json file itself, or the one eval.json inside a folder (searched recursively)."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        direct = path / EVAL_FILENAME
        if direct.is_file():
            return direct
        found = sorted(path.rglob(EVAL_FILENAME))
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listed = ", ".join(str(p) for p in found[:5])
            raise EvaluationError(f"{path} holds {len(found)} eval.json files ({listed}); name one of them")
        raise EvaluationError(f"no eval.json in {path}; run `bonefrac evaluate` on its weights first")
    raise EvaluationError(f"not found: {path} (expected an eval.json or a folder that holds one)")
