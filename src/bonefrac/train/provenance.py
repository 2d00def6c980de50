"""What made a run: code version (bonefrac + git sha), environment (python, torch, ultralytics, device)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bonefrac import __version__

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def git_state(folder: Path = PACKAGE_DIR) -> tuple[str | None, bool | None]:
    """(commit sha, has uncommitted changes) of the checkout holding bonefrac, or (None, None)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None, None
    return (sha or None), bool(dirty)


def code_version() -> str:
    """'bonefrac 0.1.0 (git abc1234, dirty)' or 'bonefrac 0.1.0' outside a git checkout."""
    sha, dirty = git_state()
    if sha is None:
        return f"bonefrac {__version__}"
    return f"bonefrac {__version__} (git {sha[:12]}{', dirty' if dirty else ''})"


def environment(device: str, threads: int | None) -> dict[str, Any]:
    """Versions and hardware a run used (call after torch and ultralytics are imported)."""
    import torch
    import ultralytics

    sha, dirty = git_state()
    info: dict[str, Any] = {
        "bonefrac": __version__,
        "git_sha": sha,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "ultralytics": ultralytics.__version__,
        "device": device,
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "cuda_available": torch.cuda.is_available(),
    }
    if device != "cpu" and torch.cuda.is_available():
        info["gpus"] = [torch.cuda.get_device_name(int(i)) for i in device.split(",")]
        info["cuda"] = torch.version.cuda
    return info
