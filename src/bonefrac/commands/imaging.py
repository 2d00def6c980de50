"""`bonefrac image inspect`: what load_image makes of files (format, size, windowing, spacing)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Look at image files the way the detector will see them.", no_args_is_help=True)
console = Console()


@app.command("inspect")
def inspect(
    files: list[Path] = typer.Argument(..., help="Image files (JPEG, PNG, BMP, TIFF, WebP, DICOM)."),
    out: Path | None = typer.Option(
        None, "--out", help="Write each decoded, display-ready image here as <name>.png."
    ),
    frame: int | None = typer.Option(None, "--frame", min=0, help="Frame of multi-frame files."),
    max_pixels: int | None = typer.Option(None, "--max-pixels", min=1, help="Refuse larger images."),
    allow_truncated: bool = typer.Option(
        False, "--allow-truncated", help="Decode JPEGs whose end is missing (missing rows grey)."
    ),
) -> None:
    """Decode each file, print what was found, optionally write the decoded pixels as PNG.

    A refused file is reported and the others still run; the exit code is 2 when any was refused.
    """
    from bonefrac.errors import ImageError
    from bonefrac.imaging.io import DEFAULT_MAX_PIXELS, load_image
    from bonefrac.imaging.render import encode_png

    table = Table("file", "format", "size (w x h)", "mode / bits", "spacing (mm)", "intensity")
    refused: list[str] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    for path in files:
        try:
            image = load_image(
                path,
                max_pixels=max_pixels or DEFAULT_MAX_PIXELS,
                frame=frame,
                allow_truncated=allow_truncated,
            )
        except ImageError as exc:
            refused.append(str(exc))
            continue
        meta = image.metadata
        spacing = "-" if image.pixel_spacing_mm is None else "{:.4g} x {:.4g}".format(*image.pixel_spacing_mm)
        table.add_row(
            path.name,
            image.source_format,
            f"{image.width} x {image.height}",
            f"{meta.get('mode', '')} / {meta.get('bit_depth', '')}",
            spacing,
            _intensity_note(meta),
        )
        if out is not None:
            (out / f"{path.name}.png").write_bytes(encode_png(image.pixels))
    if table.row_count:
        console.print(table)
    for message in refused:
        console.print(f"[red]refused[/] {message}", highlight=False)
    if not allow_truncated and any("JPEG file is truncated" in message for message in refused):
        console.print("hint: --allow-truncated decodes JPEGs whose end is missing (missing rows grey)")
    if refused:
        raise ImageError(f"{len(refused)} of {len(files)} file(s) refused")


def _intensity_note(meta: dict) -> str:
    if meta.get("voi") == "window":
        return f"window c={meta['window_center']:g} w={meta['window_width']:g} {meta['voi_lut_function']}"
    notes = [str(meta["voi"])] if "voi" in meta else []
    if "intensity_range" in meta:
        low, high = meta["intensity_range"]
        notes.append(f"range {low:g}..{high:g} -> 0..255")
    for key in ("inverted", "alpha", "truncated"):
        if key in meta:
            notes.append(f"{key}: {meta[key]}")
    if meta.get("exif_orientation", 1) != 1:
        notes.append(f"EXIF orientation {meta['exif_orientation']}")
    return "; ".join(notes) or "8-bit as stored"


def register(root: typer.Typer) -> None:
    """Add the `image` command group to the root app."""
    root.add_typer(app, name="image")
