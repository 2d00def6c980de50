"""A real Orthanc (Debian's `orthanc` + `orthanc-dicomweb`) started by the tests: a temporary configuration,
free loopback ports, no authentication, storage under a temporary folder; stopped and removed afterwards."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
AE_TITLE = "ORTHANC"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def missing_reason() -> str | None:
    """Why Orthanc cannot run here (None: it can)."""
    if shutil.which("Orthanc") is None:
        return "Orthanc is not installed (Debian package orthanc; `make test` installs it as root)"
    if not DICOMWEB_PLUGIN.exists():
        return f"the Orthanc DICOMweb plugin is missing ({DICOMWEB_PLUGIN}; Debian package orthanc-dicomweb)"
    return None


@dataclass
class Orthanc:
    """A running Orthanc: its REST and DICOMweb URLs and its DICOM address."""

    folder: Path
    http_port: int
    dicom_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.url}/dicom-web"

    users: dict[str, str] | None = None  # basic-auth users; None: no authentication

    def start(self, modalities: dict[str, tuple[str, int]]) -> None:
        """Start with `modalities` (name -> (host, port), AE title = name) it may send to."""
        config = {
            "Name": "bonefrac-test",
            "StorageDirectory": str(self.folder / "storage"),
            "IndexDirectory": str(self.folder / "index"),
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": AE_TITLE,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": self.users is not None,
            "RegisteredUsers": self.users or {},
            "HttpServerEnabled": True,
            "DicomServerEnabled": True,
            "DicomModalities": {name: [name, host, port] for name, (host, port) in modalities.items()},
            "Plugins": [str(DICOMWEB_PLUGIN)],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True},
            "StableAge": 1,
        }
        (self.folder / "orthanc.json").write_text(json.dumps(config))
        log = open(self.folder / "orthanc.log", "wb")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            ["Orthanc", str(self.folder / "orthanc.json")], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited: {(self.folder / 'orthanc.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/system", timeout=1, auth=self.auth).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("Orthanc did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()

    @property
    def auth(self) -> tuple[str, str] | None:
        return next(iter(self.users.items())) if self.users else None

    def get(self, path: str) -> object:
        response = httpx.get(f"{self.url}{path}", timeout=30, auth=self.auth)
        response.raise_for_status()
        return response.json()

    def upload(self, data: bytes) -> str:
        """Store a Part 10 file; its Orthanc instance id."""
        response = httpx.post(f"{self.url}/instances", content=data, timeout=30, auth=self.auth)
        response.raise_for_status()
        return str(response.json()["ID"])

    def send_to(self, modality: str, instance_id: str) -> None:
        """C-STORE one stored instance to `modality` (Orthanc as SCU)."""
        response = httpx.post(
            f"{self.url}/modalities/{modality}/store", json=[instance_id], timeout=60, auth=self.auth
        )
        response.raise_for_status()

    def study_instances(self, study_uid: str) -> list[dict]:
        """Every instance of the study with its main DICOM tags, read back from Orthanc."""
        found = httpx.post(
            f"{self.url}/tools/find",
            json={"Level": "Instance", "Query": {"StudyInstanceUID": study_uid}, "Expand": True},
            timeout=30,
            auth=self.auth,
        ).json()
        return [self.get(f"/instances/{item['ID']}/simplified-tags") | {"ID": item["ID"]} for item in found]

    def file(self, instance_id: str) -> bytes:
        response = httpx.get(f"{self.url}/instances/{instance_id}/file", timeout=30, auth=self.auth)
        response.raise_for_status()
        return response.content
