"""`bonefrac data fetch ...`: public data sets from their official source, laid out as YOLO data sets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

app = typer.Typer(help="Download public data sets and lay them out as YOLO data sets.", no_args_is_help=True)
console = Console()
progress_console = Console(stderr=True)


@app.command("fracatlas")
def fracatlas(
    out: Path = typer.Option(..., "--out", help="Folder for the YOLO layout (images/, labels/, data.yaml)."),
    archive: Path | None = typer.Option(
        None, "--archive", help="A FracAtlas.zip downloaded by hand: lay it out without the network."
    ),
    api: str | None = typer.Option(
        None, "--figshare-api", help="figshare API base URL (default https://api.figshare.com/v2; a mirror)."
    ),
) -> None:
    """FracAtlas (Abedeen et al., Sci Data 2023, CC BY 4.0) from its figshare record: download with resume,
    size and md5 checks, then the official fracture split, the other images by id range, labels, data.yaml."""
    from bonefrac.data.download import FIGSHARE_API
    from bonefrac.data.fracatlas_fetch import fetch_fracatlas

    download_bar = _LazyBar("downloading FracAtlas.zip", DownloadColumn(), TransferSpeedColumn())
    layout_bar = _LazyBar("laying out", MofNCompleteColumn())
    try:
        outcome = fetch_fracatlas(
            out,
            archive=archive,
            api=api or FIGSHARE_API,
            on_download=download_bar.update,
            on_layout=layout_bar.update,
        )
    finally:
        download_bar.close()
        layout_bar.close()
    layout = outcome.layout
    if outcome.downloaded:
        resumed = f", resumed at {outcome.resumed_from:,} bytes" if outcome.resumed_from else ""
        console.print(
            f"{outcome.archive} ({outcome.archive.stat().st_size:,} bytes{resumed}): size and md5 match the "
            f"figshare record; sha256 {outcome.sha256}",
            highlight=False,
        )
    else:
        console.print(
            f"{outcome.archive}: md5 {outcome.md5}, sha256 {outcome.sha256} (compare the md5 with the "
            "figshare record's)",
            highlight=False,
        )
    splits = ", ".join(
        f"{split} {layout.images[split]:,} ({layout.fractured[split]:,} fractured)" for split in layout.images
    )
    console.print(f"wrote {layout.data_yaml}: {splits}", highlight=False)
    console.print(f"official fracture split only: {layout.fractured_only_yaml}", highlight=False)
    for note in layout.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(
        "FracAtlas is CC BY 4.0: credit Abedeen et al., Sci Data 10, 521 (2023) in anything made from it.",
        highlight=False,
    )


class _LazyBar:
    """A progress bar on stderr that appears with its first update (a refused fetch prints no bar)."""

    def __init__(self, description: str, *columns: ProgressColumn) -> None:
        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            *columns,
            TimeRemainingColumn(),
            console=progress_console,
        )
        self._task = self._progress.add_task(description, total=None)
        self._started = False

    def update(self, done: int, total: int) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._started:
            self._progress.stop()
