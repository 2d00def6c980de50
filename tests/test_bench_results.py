"""bench/_results.py: rows land in their own section's table, whatever else RESULTS.md holds."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("_results", Path(__file__).parents[1] / "bench" / "_results.py")
_results = importlib.util.module_from_spec(spec)
spec.loader.exec_module(_results)

HEAD = "| a | b |\n|---|---|\n"


def test_append_rows_creates_file_and_section(tmp_path):
    path = tmp_path / "RESULTS.md"
    _results.append_rows("## One", HEAD, ["| 1 | 2 |"], intro="What one measures.", path=path)
    expected = "# Benchmark results\n\n## One\n\nWhat one measures.\n\n" + HEAD + "| 1 | 2 |\n"
    assert path.read_text() == expected


def test_append_rows_goes_to_the_end_of_its_own_table(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# B\n\n## One\n\n" + HEAD + "| 1 | 1 |\n\n## Two\n\n" + HEAD + "| 2 | 2 |\n")
    _results.append_rows("## One", HEAD, ["| 1 | 9 |"], path=path)
    _results.append_rows("## Two", HEAD, ["| 2 | 9 |"], path=path)
    assert path.read_text() == (
        "# B\n\n## One\n\n" + HEAD + "| 1 | 1 |\n| 1 | 9 |\n\n## Two\n\n" + HEAD + "| 2 | 2 |\n| 2 | 9 |\n"
    )


def test_machine_label_names_cores_and_python():
    label = _results.machine_label()
    assert "cores" in label and "Python" in label
