"""The README's Python API example, run exactly as written, on real MNIST."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from search.limits import DATA_ENV
from tests.helpers import REPO


def readme_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Python API") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def run_example(folder: Path, data: Path, code: str, way: str) -> subprocess.CompletedProcess:
    """`code` run from `folder` (holding the quick study's spec) as a plain script or as `python -`."""
    (folder / "studies").mkdir()
    shutil.copy(REPO / "studies" / "tiny.toml", folder / "studies" / "tiny.toml")
    script = folder / "example.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)] if way == "script" else [sys.executable, "-"],
        input=None if way == "script" else code,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        env={DATA_ENV: str(data), "PATH": ""},
    )


def test_the_readme_python_example_runs(tmp_path: Path, mnist_root: Path) -> None:
    result = run_example(tmp_path, mnist_root, readme_example(), "script")
    assert result.returncode == 0, result.stderr
    assert "COMPLETE" in result.stdout
    assert "Warning" not in result.stderr and "Trial 0 finished" not in result.stderr, result.stderr  # quiet
    exported = json.loads((tmp_path / "best.json").read_text())
    summary = json.loads((tmp_path / "runs" / "best" / "summary.json").read_text())
    assert exported["provenance"]["study"] == "tiny" and summary["seeds"] == [0, 1]
    assert (tmp_path / "notebook.db").is_file() and (tmp_path / "retrains.db").is_file()
    card = json.loads((tmp_path / "best.card.json").read_text())
    assert (tmp_path / "best.int8.onnx").is_file() and card["provenance"]["seed"] == 0
    assert f"{card['fp32']['test_acc']} {card['int8']['test_acc']} {card['fp32']['agreement']}" in result.stdout


def test_the_readme_search_runs_from_stdin(tmp_path: Path, mnist_root: Path) -> None:
    """As `python -`, whose `__main__` is no file: the API's worker processes start and do not
    run the caller's unguarded top-level code again (the example up to its trials table, on
    1,000 training images: what is checked is how the workers start, not what they learn)."""
    code = readme_example()
    code = code[: code.index("best = ")].replace("subset=5000", "subset=1000")
    assert "subset=1000" in code
    result = run_example(tmp_path, mnist_root, code, "stdin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("COMPLETE") >= 1 and result.stdout.count("state") == 1, result.stdout  # one table


def test_the_readme_python_example_runs_in_a_jupyter_kernel(tmp_path: Path, mnist_root: Path, monkeypatch) -> None:
    """In a notebook: the kernel's `__main__` is no file, and the workers still start. Runs where
    Jupyter's kernel and client are installed (they are no dependency of tinynas)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    (tmp_path / "studies").mkdir()
    shutil.copy(REPO / "studies" / "tiny.toml", tmp_path / "studies" / "tiny.toml")
    monkeypatch.setenv(DATA_ENV, str(mnist_root))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(readme_example())])
    nbclient.NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for o in notebook.cells[0].outputs if o.output_type == "stream")
    assert "COMPLETE" in printed, notebook.cells[0].outputs
    assert json.loads((tmp_path / "best.json").read_text())["provenance"]["study"] == "tiny"
    assert json.loads((tmp_path / "runs" / "best" / "summary.json").read_text())["seeds"] == [0, 1]
