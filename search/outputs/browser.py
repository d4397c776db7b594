"""Open a report in headless Chromium: check that every Plotly figure drew what it says, take a screenshot."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html import unescape
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
            capture_output=True,
            text=True,
            timeout=180,
        )
    if result.returncode != 0:
        raise TinynasError(f"Chromium failed on {html}: {result.stderr.strip().splitlines()[-1:]}")
    return result.stdout


_CHECK = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const report = [...document.querySelectorAll(".plotly-graph-div")].map((gd) => {
    const layout = gd._fullLayout, found = {drawn: !!(layout && gd.querySelector(".main-svg")), silent: [], outside: []};
    (gd._fullData || []).filter((t) => t.visible === true && t.type === "scatter").forEach((t, i) => {
      const name = t.name || `trace ${i}`, mode = t.mode || "";
      if (t.showlegend && !/markers|text/.test(mode) && (t.x || []).length < 2) found.silent.push(name);
      for (const [values, axis] of [[t.x, layout[(t.xaxis || "x").replace("x", "xaxis")]],
                                    [t.y, layout[(t.yaxis || "y").replace("y", "yaxis")]]]) {
        if (!values || !axis || !axis.range || !["linear", "log"].includes(axis.type)) continue;
        const [lo, hi] = [Math.min(...axis.range), Math.max(...axis.range)];
        const off = [...values].some((v) => typeof v === "number" && isFinite(v) &&
                                            ((w) => w < lo || w > hi)(axis.type === "log" ? Math.log10(v) : v));
        if (off) { found.outside.push(name); break; }
      }
    });
    return found;
  });
  const out = document.createElement("pre");
  out.id = "tinynas-check";
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
}, 1000));
</script>"""
"""Run in the page after Plotly: per figure, whether it drew, the legend entries that draw
nothing (a line of fewer than two points), and the traces with a point outside the axes."""


@dataclass(frozen=True)
class FigureCheck:
    drawn: int
    total: int
    silent: list[str]  # traces in a legend that draw nothing
    outside: list[str]  # traces with a point the axes cut off

    @property
    def ok(self) -> bool:
        return self.drawn == self.total and not self.silent and not self.outside


def check_figures(html: Path) -> FigureCheck:
    """Open the report in Chromium with `_CHECK` added (on a copy) and read back what it found:
    Plotly fills a figure's div and its `_fullLayout` only when its script really ran."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / html.name
        copy.write_text(html.read_text(encoding="utf-8").replace("</body>", _CHECK + "</body>"), encoding="utf-8")
        dom = _run(copy, "--dump-dom")
    found = re.search(r'<pre id="tinynas-check">(.*?)</pre>', dom, re.S)
    figures = json.loads(unescape(found.group(1))) if found else []
    total = len(re.findall(r'<div [^>]*class="plotly-graph-div', dom))
    return FigureCheck(
        drawn=sum(f["drawn"] for f in figures),
        total=total,
        silent=[n for f in figures for n in f["silent"]],
        outside=[n for f in figures for n in f["outside"]],
    )


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2400) -> Path:
    _run(html, f"--screenshot={png.resolve()}", f"--window-size={width},{height}")
    if not png.is_file():
        raise TinynasError(f"Chromium wrote no screenshot to {png}")
    return png
