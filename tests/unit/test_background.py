"""`studies/background.sh`, the script that keeps a search of hours going across machines: a
stop sent to it reaches its search at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, quick_spec

FAKE_SEARCH = """\
import signal, sys, time
from pathlib import Path
folder = Path(sys.argv[0]).parent
def stop(*_):
    (folder / "stopped").write_text(repr(time.monotonic()))
    sys.exit(130)
signal.signal(signal.SIGINT, stop)  # as `tinynas search` does: a background shell ignores SIGINT
(folder / "started").touch()
end = time.monotonic() + 120  # a script that fails to stop it leaves nothing running for long
while time.monotonic() < end:
    time.sleep(0.05)
"""


FAKE_GIT = """\
#!/usr/bin/env bash
touch "$(dirname "$0")/committing"
sleep 1
"""


def _tool(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)
    (folder / name).chmod(0o755)


@pytest.mark.parametrize("during", ["a wait", "a snapshot"])
def test_a_stop_to_the_background_script_reaches_its_search_at_once(tmp_path: Path, during: str) -> None:
    """`kill -TERM` to the script is passed on to the search at once, whether it comes during
    the script's wait of up to 10 seconds between looks (meanwhile the trial in flight could
    end, and the last snapshot would hold no state to resume it from) or while a snapshot is
    being committed (when the script has no wait to end); then a last snapshot is taken."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    _tool(bin_, "tinynas", f"#!{sys.executable}\n{FAKE_SEARCH}")  # notes when the stop reaches it
    _tool(bin_, "git", FAKE_GIT)  # a commit that takes a second
    (tmp_path / "studies").mkdir()
    if during == "a snapshot":
        sqlite3.connect(tmp_path / "studies" / "tiny.db").close()  # a live study to copy
    spec = quick_spec(tmp_path)
    env = {**os.environ, "PATH": f"{bin_}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    minutes = "10" if during == "a wait" else "0"  # 0: a snapshot on each look, none between
    script = [str(REPO / "studies" / "background.sh"), str(spec), str(tmp_path / "snap" / "tiny.db"), minutes]
    proc = subprocess.Popen(["bash", *script], cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE)
    ready = bin_ / ("started" if during == "a wait" else "committing")
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)  # the script is in its wait, or in the commit
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert (bin_ / "stopped").exists(), "the search was not stopped"
    assert float((bin_ / "stopped").read_text()) - sent < 5, "the stop waited for the script's next look"
    if during == "a snapshot":
        assert (tmp_path / "snap" / "tiny.db").is_file()
