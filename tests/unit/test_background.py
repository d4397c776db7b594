"""`studies/background.sh`, the script that keeps a search of hours going across machines: a
stop sent to it reaches its search at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
while True:
    time.sleep(0.05)
"""


def test_a_stop_to_the_background_script_reaches_its_search_at_once(tmp_path: Path) -> None:
    """`kill -TERM` to the script is passed on to the search at once, not after the script's
    wait of up to 10 seconds between looks (meanwhile the trial in flight could end, and the
    last snapshot would hold no state to resume it from)."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    fake = bin_ / "tinynas"  # stands in for `tinynas search`: notes when the stop reaches it
    fake.write_text(f"#!{sys.executable}\n{FAKE_SEARCH}")
    fake.chmod(0o755)
    (tmp_path / "studies").mkdir()
    spec = quick_spec(tmp_path)
    env = {**os.environ, "PATH": f"{bin_}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    script = [str(REPO / "studies" / "background.sh"), str(spec), str(tmp_path / "snap" / "tiny.db"), "10"]
    proc = subprocess.Popen(["bash", *script], cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (bin_ / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.5)  # the script is in its wait between looks
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert float((bin_ / "stopped").read_text()) - sent < 5, "the stop waited for the script's next look"
