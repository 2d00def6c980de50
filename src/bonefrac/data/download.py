"""Files of a public figshare record: what the record holds (name, size, md5) and a resumable download.

    record = figshare_files(22363012)                 # the figshare API's file list
    download(record[0], folder, on_progress=bar)      # HTTP Range resume, md5 checked, sha256 recorded

Standard library only (urllib); no download happens anywhere else in bonefrac.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bonefrac import __version__
from bonefrac.errors import BonefracError

FIGSHARE_API = "https://api.figshare.com/v2"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60.0
USER_AGENT = f"bonefrac/{__version__} (data fetch)"


class NetworkError(BonefracError):
    """The network was needed and could not be used; the message says what to do instead."""


class ChecksumError(BonefracError):
    """A downloaded or given file is not the one the record lists."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a figshare record."""

    name: str
    url: str
    size: int
    md5: str


@dataclass(frozen=True)
class Downloaded:
    """A complete, checked file on disk."""

    path: Path
    size: int
    md5: str
    sha256: str
    resumed_from: int  # bytes already there when this download started (0: from the beginning)


def _request(url: str, headers: dict[str, str] | None = None) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})


def figshare_files(article_id: int, api: str = FIGSHARE_API) -> list[RemoteFile]:
    """The files of a figshare article, from its public API; NetworkError when it cannot be reached."""
    url = f"{api.rstrip('/')}/articles/{article_id}"
    try:
        with urllib.request.urlopen(_request(url), timeout=TIMEOUT_S) as response:
            record = json.load(response)
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NetworkError(f"could not reach {url} ({reason})") from exc
    except ValueError as exc:
        raise NetworkError(f"{url} did not answer with JSON ({exc})") from exc
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, list) or not files:
        raise NetworkError(f"{url} lists no files (is {article_id} the right figshare record?)")
    return [
        RemoteFile(
            name=str(item["name"]),
            url=str(item["download_url"]),
            size=int(item["size"]),
            md5=str(item.get("computed_md5") or item.get("supplied_md5") or ""),
        )
        for item in files
    ]


def file_digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file, read once."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def check_file(path: Path, remote: RemoteFile) -> tuple[str, str]:
    """(md5, sha256) of a file that has the record's size and md5; ChecksumError when it has not."""
    size = path.stat().st_size
    if size != remote.size:
        raise ChecksumError(f"{path} has {size:,} bytes; the record's {remote.name} has {remote.size:,}")
    md5, sha256 = file_digests(path)
    if remote.md5 and md5 != remote.md5:
        raise ChecksumError(f"{path}: md5 {md5}, but the record's {remote.name} has md5 {remote.md5}")
    return md5, sha256


def download(
    remote: RemoteFile,
    folder: Path,
    on_progress: Callable[[int, int], None] | None = None,
) -> Downloaded:
    """Download `remote` into folder/<name>, resuming folder/<name>.part with an HTTP Range request; the
    size and md5 are checked against the record (a mismatch removes the file: run again to download it
    afresh). NetworkError when the network fails; what arrived stays for the next try to resume."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / remote.name
    if final.is_file() and final.stat().st_size == remote.size:
        try:
            md5, sha256 = check_file(final, remote)
        except ChecksumError:
            final.unlink()
            raise
        return Downloaded(final, remote.size, md5, sha256, resumed_from=remote.size)
    part = folder / f"{remote.name}.part"
    have = part.stat().st_size if part.is_file() else 0
    if have > remote.size:
        part.unlink()
        have = 0
    start = have
    if have < remote.size:
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with urllib.request.urlopen(_request(remote.url, headers), timeout=TIMEOUT_S) as response:
                if have and response.status != 206:  # the server ignored the range: start again
                    have = start = 0
                with part.open("ab" if have else "wb") as out:
                    while chunk := response.read(CHUNK_BYTES):
                        out.write(chunk)
                        have += len(chunk)
                        if on_progress is not None:
                            on_progress(have, remote.size)
        except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", None) or type(exc).__name__
            raise NetworkError(
                f"the download of {remote.name} stopped at {have:,} of {remote.size:,} bytes ({reason}); "
                "run the same command again to resume it"
            ) from exc
    if have < remote.size:
        raise NetworkError(
            f"the download of {remote.name} stopped at {have:,} of {remote.size:,} bytes (the connection "
            "closed early); run the same command again to resume it"
        )
    try:
        md5, sha256 = check_file(part, remote)
    except ChecksumError:
        part.unlink()
        raise
    part.replace(final)
    return Downloaded(final, remote.size, md5, sha256, resumed_from=start)
