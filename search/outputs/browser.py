"""Open a report in headless Chromium: count the Plotly figures that drew, take a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from search.errors import TinynasError

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--virtual-time-budget=20000",
]  # fmt: skip
"""The background-networking flags matter on a closed network: without them Chromium keeps
trying to reach Google's hosts."""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise TinynasError("no Chromium found; install it (Debian: apt-get install chromium) for browser checks")


def _run(html: Path, *extra: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [_chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, html.resolve().as_uri()],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    if result.returncode != 0:
        raise TinynasError(f"Chromium failed on {html}: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout


def drawn_figures(html: Path) -> tuple[int, int]:
    """(figures Plotly drew, figures on the page): Plotly adds its plot container and SVG
    to a figure's div only when its script actually ran in the browser."""
    dom = _run(html, "--dump-dom")
    figures = re.findall(r'<div [^>]*class="plotly-graph-div[^"]*"[^>]*>(<div class="plot-container plotly")?', dom)
    return sum(1 for inner in figures if inner), len(figures)


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2400) -> Path:
    _run(html, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
    if not png.is_file():
        raise TinynasError(f"Chromium wrote no screenshot to {png}")
    return png
