"""figshare downloads: the record's file list, resume with HTTP Range, size and md5 checks, plain offline
errors. Served by a local server the test starts; nothing leaves the machine."""

from __future__ import annotations

import hashlib
import socket

import pytest
from fracatlas_archive import build_release_zip, serve_figshare

from bonefrac.data.download import ChecksumError, NetworkError, download, figshare_files


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory):
    return build_release_zip(tmp_path_factory.mktemp("release") / "FracAtlas.zip")


def test_record_lists_the_file_with_size_and_md5(release):
    with serve_figshare(release) as server:
        (remote,) = figshare_files(22363012, api=f"{server.base}/v2")
    assert remote.name == "FracAtlas.zip" and remote.size == release.stat().st_size
    assert remote.md5 == hashlib.md5(release.read_bytes()).hexdigest()


def test_a_part_download_is_resumed_with_a_range_request(release, tmp_path):
    data = release.read_bytes()
    (tmp_path / "FracAtlas.zip.part").write_bytes(data[:5000])
    seen: list[tuple[int, int]] = []
    with serve_figshare(release) as server:
        (remote,) = figshare_files(22363012, api=f"{server.base}/v2")
        got = download(remote, tmp_path, on_progress=lambda done, total: seen.append((done, total)))
    assert server.ranges == ["bytes=5000-"]
    assert got.resumed_from == 5000 and got.path.read_bytes() == data
    assert got.sha256 == hashlib.sha256(data).hexdigest()
    assert seen[-1] == (len(data), len(data)) and not (tmp_path / "FracAtlas.zip.part").exists()


def test_a_dropped_connection_keeps_what_arrived_for_the_next_run(release, tmp_path):
    with serve_figshare(release) as server:
        (remote,) = figshare_files(22363012, api=f"{server.base}/v2")
        server.stop_after = 3000
        with pytest.raises(NetworkError, match="stopped at 3,000 of .* run the same command again to resume"):
            download(remote, tmp_path)
        assert (tmp_path / "FracAtlas.zip.part").stat().st_size == 3000
        server.stop_after = None
        got = download(remote, tmp_path)
    assert server.ranges == [None, "bytes=3000-"]
    assert got.path.read_bytes() == release.read_bytes()


def test_a_wrong_md5_is_refused_and_removed(release, tmp_path):
    with serve_figshare(release, md5="0" * 32) as server:
        (remote,) = figshare_files(22363012, api=f"{server.base}/v2")
        with pytest.raises(ChecksumError, match="the record's FracAtlas.zip has md5 0000"):
            download(remote, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_api_is_a_network_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NetworkError, match=f"could not reach http://127.0.0.1:{port}/v2/articles/22363012"):
        figshare_files(22363012, api=f"http://127.0.0.1:{port}/v2")
