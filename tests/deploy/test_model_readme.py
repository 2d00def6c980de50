"""deploy/model/README.md lists exactly the files that ship in deploy/model (README.md aside)."""

from __future__ import annotations

import re
from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parents[2] / "deploy" / "model"


def test_readme_table_lists_the_shipped_files_and_no_others():
    text = (MODEL_DIR / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([^`]+)` \|", text, flags=re.MULTILINE))
    shipped = {p.name for p in MODEL_DIR.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert listed, "the README has no table of files"
    assert listed == shipped - {"README.md"}
