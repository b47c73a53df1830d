"""Execute every notebook in notebooks/ with nbclient (kernel 'python3' = this interpreter)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_notebooks_found() -> None:
    assert NOTEBOOKS, "no notebook in notebooks/"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME

    # ipykernel's native 'python3' spec runs sys.executable: the test's interpreter
    assert NATIVE_KERNEL_NAME == "python3"
    if "import torch" in path.read_text():  # (a notebook training with PyTorch)
        pytest.importorskip("torch")
    monkeypatch.setenv("GENOZARR_OUTPUT", str(tmp_path))
    # the notebooks' own temporary folders (tempfile.mkdtemp) go under the test's folder,
    # which pytest removes, not into the system's temporary folder where they would pile up
    kernel_tmp = tmp_path / "tmp"
    kernel_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(kernel_tmp))
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    if "mkdtemp" in path.read_text():
        assert any(kernel_tmp.iterdir()), "the notebook's temporary folder is not under TMPDIR"
