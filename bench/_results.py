"""Shared by the bench/ scripts: a label for the machine, and rows added to a section of bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine_label() -> str:
    """Host, CPU model, core count, Python version and the 1-minute load average at the time of the call."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = f", load avg {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{platform.node()} ({cpu}, {os.cpu_count()} cores, Python {platform.python_version()}{load})"


def append_rows(
    section: str, table_head: str, rows: list[str], intro: str = "", path: Path = RESULTS
) -> None:
    """Add table rows at the end of `section`'s table, creating the file or the section when missing.

    `section` is the heading line (e.g. "## Data check (`bench/bench_data_check.py`)"); other sections and
    their tables are left as they are.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if not any(line.strip() == section for line in text.splitlines()):
        block = f"\n\n{section}\n\n" + (f"{intro.rstrip()}\n\n" if intro else "") + table_head
        text = text.rstrip("\n") + block
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.strip() == section) + 1
    while at < len(lines) and not lines[at].startswith("|") and not lines[at].startswith("## "):
        at += 1
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines[at:at] = [row if row.endswith("\n") else row + "\n" for row in rows]
    path.write_text("".join(lines), encoding="utf-8")
