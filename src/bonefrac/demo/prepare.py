"""Prepare the demo folder: FracAtlas test images when FracAtlas is found, else synthetic radiographs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bonefrac.demo.folder import DemoManifest
from bonefrac.demo.fracatlas import FRACATLAS_ENV, fracatlas_location, missing_parts, write_fracatlas_demo
from bonefrac.demo.synthetic import write_synthetic_demo
from bonefrac.errors import ConfigError


@dataclass(frozen=True)
class PreparedDemo:
    """What `prepare_demo` wrote, and why it chose that kind (one line for the terminal)."""

    folder: Path
    manifest: DemoManifest
    reason: str


def prepare_demo(
    out: Path,
    *,
    fracatlas: Path | None = None,
    synthetic: bool = False,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> PreparedDemo:
    """Fill `out` with demo radiographs.

    `synthetic`: the generator's images. `fracatlas`: that folder, which must be FracAtlas. Neither: FracAtlas
    at $BONEFRAC_FRACATLAS (or ../shared/data/fracatlas from cwd) when it is there, else synthetic images.
    """
    if synthetic and fracatlas is not None:
        raise ConfigError("choose FracAtlas images (a FracAtlas folder) or synthetic ones, not both")
    out = Path(out)
    if synthetic:
        return PreparedDemo(out, write_synthetic_demo(out), "synthetic images were asked for")
    if fracatlas is not None:
        return PreparedDemo(out, write_fracatlas_demo(fracatlas, out), f"FracAtlas at {fracatlas}")
    environ = os.environ if environ is None else environ
    location = fracatlas_location(environ, Path.cwd() if cwd is None else cwd).resolve()
    missing = missing_parts(location)
    if not missing:
        return PreparedDemo(out, write_fracatlas_demo(location, out), f"FracAtlas found at {location}")
    hint = "" if environ.get(FRACATLAS_ENV) else f"; set ${FRACATLAS_ENV} to use another folder"
    lacks = f"it lacks {', '.join(missing)}" if location.is_dir() else "no such folder"
    reason = f"no FracAtlas at {location} ({lacks}{hint}): synthetic images instead"
    return PreparedDemo(out, write_synthetic_demo(out), reason)
