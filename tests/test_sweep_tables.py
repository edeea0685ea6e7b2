"""experiments/sweep_tables.py: results tables become README sections, replaced in place."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

from test_plot import _table

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "experiments"))
import sweep_tables  # noqa: E402


def test_sections_are_written_and_replaced(tmp_path: Path) -> None:
    df = _table().assign(workers=1, budget_s=600.0, v_cimopt="0.1.0", v_ortools="9", v_onnx="1", v_numpy="2",
                         v_python="3.11", energy_pj=1e6, memory_peak_bytes=float(1 << 20))
    (tmp_path / "hve").mkdir()
    df.to_csv(tmp_path / "hve" / "results.csv", index=False)
    readme = tmp_path / "README.md"
    readme.write_text("# Experiments\n\nbefore\n\n<!-- sweep:hve:begin -->\nold\n<!-- sweep:hve:end -->\n\nafter\n")
    argv = [str(readme), str(tmp_path / "hve" / "results.csv"), "--compare", "hve"]
    assert sweep_tables.main(argv) == 0
    text = readme.read_text()
    assert "old" not in text and text.startswith("# Experiments\n\nbefore") and text.rstrip().endswith("after")
    assert "| light:squeezenet | pimcomp | 0 | end_to_end |" in text and "0.9000" in text
    assert "5 rows (1 with an error)" in text and "- missing.onnx on isaac, exact: error" in text
    assert sweep_tables.main(argv) == 0 and readme.read_text() == text     # rerunning changes nothing
    assert len(pd.read_csv(tmp_path / "hve" / "results.csv")) == 5
