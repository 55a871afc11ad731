"""Every notebook runs top to bottom (small settings) so none of them rots."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_the_five_notebooks_exist_and_match_their_source():
    from notebooks.build_notebooks import NOTEBOOKS as SOURCE

    assert [p.name for p in NOTEBOOKS] == sorted(SOURCE)
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert [c.source for c in cells] == [src for _, src in SOURCE[path.name]], f"{path.name}: rebuild it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch, tmp_path):
    monkeypatch.setenv("RESTOOLKIT_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("RESTOOLKIT_HOME", str(tmp_path / "home"))  # no presets: the notebooks say so and go on
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    # execute() raises on the first failing cell; every code cell must also have run.
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code)
    assert not [o for c in code for o in c.get("outputs", []) if o.output_type == "error"]
