"""A demo folder: the radiographs the UI offers, `labels/` (YOLO), a README and `demo.json` (what they are).

The repository never carries these files: they are prepared at run time into an ignored folder (`.data/demo`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bonefrac.errors import ConfigError, DatasetError

MANIFEST_NAME = "demo.json"
LABELS_DIR = "labels"
DemoKind = Literal["fracatlas", "synthetic"]
TITLES: dict[str, str] = {
    "fracatlas": "Demo radiographs: FracAtlas test images",
    "synthetic": "SYNTHETIC demo images: made by bonefrac's generator, not real patients",
}


class DemoImage(BaseModel):
    """One demo image: its file name in the folder, its label file and what the label says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str
    label: str  # labels/<stem>.txt, YOLO format; empty: no fracture
    boxes: int = Field(ge=0)
    note: str = ""  # the body region (FracAtlas) or how it was made (synthetic)


class DemoManifest(BaseModel):
    """What a demo folder holds (`demo.json`): the kind, where the images came from, the rule, the credit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DemoKind
    source: str
    rule: str
    credit: str | None = None
    images: list[DemoImage]


def reset_demo_folder(out: Path) -> Path:
    """An empty `out/labels/`, removing a demo folder written before; refuses a folder that is not one."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"the demo folder must be a folder, got {out} (a file)")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MANIFEST_NAME).is_file():
            raise ConfigError(
                f"{out} holds files but no {MANIFEST_NAME}, so it is not a demo folder bonefrac wrote; "
                "choose a new or empty folder"
            )
        shutil.rmtree(out)
    (out / LABELS_DIR).mkdir(parents=True, exist_ok=True)
    return out


def label_name(image_file: str) -> str:
    """labels/<stem>.txt for an image file name."""
    return f"{LABELS_DIR}/{Path(image_file).stem}.txt"


def finish_demo_folder(out: Path, manifest: DemoManifest) -> DemoManifest:
    """Write `demo.json` and README.md for the images already in `out`; every listed file must be there."""
    out = Path(out)
    missing = [
        name for image in manifest.images for name in (image.file, image.label) if not (out / name).is_file()
    ]
    if missing:
        raise DatasetError(f"demo folder {out} lacks files its manifest lists: {', '.join(missing)}")
    (out / MANIFEST_NAME).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (out / "README.md").write_text(render_readme(manifest), encoding="utf-8")
    return manifest


def read_demo_manifest(folder: str | Path) -> DemoManifest | None:
    """The folder's `demo.json`, or None when it has none; DatasetError when it is unreadable or invalid."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        return DemoManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path} is not readable JSON: {exc}") from exc
    except ValidationError as exc:
        raise DatasetError(
            f"{path} is not a demo manifest (kind, source, rule, credit, images): {exc}"
        ) from exc


def render_readme(manifest: DemoManifest) -> str:
    """README.md of a demo folder: what the images are, how they were chosen or made, the credit, a table."""
    lines = [f"# {TITLES[manifest.kind]}", "", f"Source: {manifest.source}", "", f"Rule: {manifest.rule}", ""]
    if manifest.credit:
        lines += [f"Credit: {manifest.credit}", ""]
    lines += [
        "`labels/` holds each image's ground truth (YOLO format; an empty file: no fracture). Prepared at "
        "run time by `bonefrac data demo`; never commit this folder.",
        "",
        "| file | fractured | boxes | note |",
        "|---|---|---|---|",
    ]
    for image in manifest.images:
        lines.append(f"| {image.file} | {'yes' if image.boxes else 'no'} | {image.boxes} | {image.note} |")
    return "\n".join(lines) + "\n"
