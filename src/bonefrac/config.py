"""Typed configuration: strict models (unknown keys fail with the closest valid name) and YAML loading."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bonefrac.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config record: frozen, and a mistyped key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _field_names(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Valid keys at the nested location `loc` (the unknown key itself is the last element)."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = annotation
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields else []


def explain_validation_error(
    model: type[BaseModel], error: ValidationError, source: str, secrets: frozenset[str] = frozenset()
) -> str:
    """Readable message for a pydantic error: what key, what was expected, the closest valid key. The value
    of a field named in `secrets` is never repeated."""
    lines = [f"invalid configuration in {source}:"]
    for item in error.errors():
        loc = tuple(item["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if item["type"] == "extra_forbidden":
            valid = _field_names(model, loc)
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"  - unknown key {where!r}{hint} (valid keys: {', '.join(valid)})")
        else:
            secret = bool(loc) and str(loc[0]) in secrets
            got = "(value not shown: it is a secret)" if secret else f"(got {item.get('input')!r})"
            lines.append(f"  - {where}: {item['msg']} {got}")
    return "\n".join(lines)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """Turn ["a.b=1", "c=[1, 2]"] into a nested dict; values are parsed as YAML scalars/lists."""
    result: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"override must look like key=value, got {pair!r}")
        key, raw = pair.split("=", 1)
        if not key.strip():
            raise ConfigError(f"override has an empty key: {pair!r}")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {pair!r}: value is not valid YAML ({exc})") from exc
        node = result
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {pair!r} conflicts with an earlier override of {part!r}")
        node[parts[-1]] = value
    return result


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A new dict: `override` merged into `base`, recursively for nested dicts. Inputs are not changed."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of keys to values, got {type(data).__name__}")
    return data


def build_config(model: type[ModelT], data: dict[str, Any], source: str) -> ModelT:
    """Validate `data` into `model`, turning pydantic errors into a ConfigError with suggestions."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(explain_validation_error(model, exc, source)) from exc


def load_config(model: type[ModelT], path: Path, overrides: list[str] | None = None) -> ModelT:
    """Load a YAML config file into `model`, applying `key=value` overrides first."""
    data = deep_merge(read_yaml_mapping(path), parse_overrides(overrides or []))
    return build_config(model, data, str(path))
