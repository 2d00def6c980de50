"""`bonefrac data fetch fracatlas`: the FracAtlas release from its official figshare record, checked and laid
out as a YOLO data set (bonefrac.data.fracatlas_release); or a release archive downloaded by hand.

    outcome = fetch_fracatlas(Path("data/fracatlas"))                         # needs the network
    outcome = fetch_fracatlas(Path("data/fracatlas"), archive=Path("FracAtlas.zip"))   # offline
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bonefrac.data.download import (
    FIGSHARE_API,
    NetworkError,
    RemoteFile,
    download,
    figshare_files,
    file_digests,
)
from bonefrac.data.fracatlas_release import LayoutSummary, layout_release
from bonefrac.errors import DatasetError

FIGSHARE_ARTICLE = 22363012
RECORD_URL = "https://doi.org/10.6084/m9.figshare.22363012"
ARCHIVE_NAME = "FracAtlas.zip"
DOWNLOAD_FOLDER = ".download"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FetchOutcome:
    """The laid-out data set and the archive it came from (with its digests)."""

    layout: LayoutSummary
    archive: Path
    md5: str
    sha256: str
    downloaded: bool  # False: a given --archive
    checked_against_record: bool  # size and md5 equal to the figshare record's
    resumed_from: int = 0


def manual_hint(out_dir: Path) -> str:
    """Where to get the archive by hand and how to use it."""
    return (
        f"download {ARCHIVE_NAME} from the official record {RECORD_URL} (the 'Download' button) and run "
        f"`bonefrac data fetch fracatlas --archive path/to/{ARCHIVE_NAME} --out {out_dir}`"
    )


def pick_archive(files: list[RemoteFile]) -> RemoteFile:
    """The release zip among the record's files (FracAtlas.zip, else the only .zip)."""
    zips = [f for f in files if f.name.lower().endswith(".zip")]
    named = [f for f in zips if f.name == ARCHIVE_NAME]
    if named or len(zips) == 1:
        return (named or zips)[0]
    raise DatasetError(
        f"the FracAtlas record lists {', '.join(f.name for f in files)}; expected one {ARCHIVE_NAME}"
    )


def fetch_fracatlas(
    out_dir: Path,
    *,
    archive: Path | None = None,
    api: str = FIGSHARE_API,
    on_download: Progress | None = None,
    on_layout: Progress | None = None,
) -> FetchOutcome:
    """Download (resumable, size and md5 checked) or take `archive`, then write the YOLO layout into out_dir.

    The download is kept in out_dir/.download/ (a later run re-uses it). Offline, NetworkError says that the
    network is needed and where to put a manual download."""
    if archive is not None:
        if not archive.is_file():
            raise DatasetError(f"--archive {archive}: no such file; expected the release's {ARCHIVE_NAME}")
        md5, sha256 = file_digests(archive)
        source: dict[str, object] = {"archive": str(archive), "md5": md5, "sha256": sha256}
        layout = layout_release(archive, out_dir, on_layout, source)
        return FetchOutcome(layout, archive, md5, sha256, downloaded=False, checked_against_record=False)
    try:
        remote = pick_archive(figshare_files(FIGSHARE_ARTICLE, api))
        got = download(remote, out_dir / DOWNLOAD_FOLDER, on_download)
    except NetworkError as exc:
        raise NetworkError(
            f"fetching FracAtlas needs the network: {exc}. Without it, {manual_hint(out_dir)}"
        ) from exc
    source = {
        "record": RECORD_URL,
        "url": remote.url,
        "file": remote.name,
        "bytes": got.size,
        "md5": got.md5,
        "sha256": got.sha256,
    }
    layout = layout_release(got.path, out_dir, on_layout, source)
    return FetchOutcome(
        layout,
        got.path,
        got.md5,
        got.sha256,
        downloaded=True,
        checked_against_record=True,
        resumed_from=got.resumed_from,
    )
