"""Two `tinynas worker` processes on one study in a real PostgreSQL server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest

from tests.helpers import REPO, quick_spec, run_cli


def _pg_bin() -> Path:
    """Debian's postgresql package (installed by .ci/run); a missing server fails loudly."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found and not shutil.which("pg_ctl"):
        pytest.fail("PostgreSQL server binaries not found: apt-get install postgresql (see .ci/run)")
    return found[-1].parent if found else Path(shutil.which("pg_ctl")).parent


def _as_postgres(args: list[str]) -> list[str]:
    """The server refuses to run as root: run it as the package's postgres user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass(frozen=True)
class Server:
    url: str
    restart: Callable[[], None]


@pytest.fixture()
def postgres() -> Iterator[Server]:
    bin_dir = _pg_bin()
    data = Path(tempfile.mkdtemp(prefix="tinynas-pg-"))  # outside pytest's private tmp: postgres must reach it
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run = lambda *a: subprocess.run(_as_postgres([str(bin_dir / a[0]), *a[1:]]), check=True, capture_output=True)  # noqa: E731
    run("initdb", "-D", str(data), "-U", "tinynas", "--auth=trust")
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {data}"
    run("pg_ctl", "-D", str(data), "-o", opts, "-w", "-l", str(data / "log"), "start")
    try:
        run("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "tinynas", "study")
        yield Server(
            f"postgresql+psycopg://tinynas@127.0.0.1:{port}/study",
            lambda: run("pg_ctl", "-D", str(data), "-o", opts, "-m", "fast", "-w", "-l", str(data / "log"), "restart"),
        )
    finally:
        run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


def worker_args(spec: Path, url: str, data: Path, *, trials: int, subset: int) -> list[str]:
    """`tinynas worker` on one thread: two of them share the two cores."""
    return [sys.executable, "-m", "search", "worker", str(spec), "--storage", url, "--trials", str(trials),
            "--subset", str(subset), "--data-dir", str(data), "--threads", "1"]  # fmt: skip


@pytest.fixture()
def postgres_url(postgres: Server) -> str:
    return postgres.url


def test_two_workers_share_a_study_in_postgresql(postgres_url: str, mnist_root: Path, tmp_path: Path) -> None:
    spec = quick_spec(tmp_path, unpruned=True)
    args = worker_args(spec, postgres_url, mnist_root, trials=6, subset=1000)
    workers = [
        subprocess.Popen(args, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    assert all(out.count("trial ") >= 1 for out, _ in outputs), "both workers ran trials"
    study = optuna.load_study(study_name="tiny", storage=postgres_url)
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(len(trials)))  # none lost, none duplicated
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    trained = [t for t in trials if not t.user_attrs.get("infeasible")]
    assert 6 <= len(trained) <= 7  # the second worker may finish the trial it had started
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert study.best_trial.number == max(complete, key=lambda t: t.value).number
    printed = sum(out.count("trial ") for out, _ in outputs)
    assert printed == len(trials)  # every trial was run by exactly one worker


SECRET = "s3cret-Pa55"


def test_no_command_shows_the_storage_password(postgres_url: str, mnist_root: Path, tmp_path: Path) -> None:
    """The server trusts local connections, so the password is accepted and ignored: what
    matters is that no output, file or study attribute ever contains it."""
    url = postgres_url.replace("tinynas@", f"tinynas:{SECRET}@")
    common, spec = ["--data-dir", str(mnist_root), "--threads", "1"], str(quick_spec(tmp_path))
    outputs = [
        run_cli("search", spec, "--trials", "2", "--subset", "1000", "--storage", url, *common),
        run_cli("search", spec, "--trials", "3", "--subset", "1000", *common,
                env={"TINYNAS_STORAGE": url}),
        run_cli("trials", "tiny", "--storage", url, "--csv", str(tmp_path / "t.csv")),
        run_cli("studies", env={"TINYNAS_STORAGE": url}),
        run_cli("export", "tiny", "--storage", url, "--rule", "best", "--out", str(tmp_path / "best.json")),
        run_cli("report", "tiny", "--storage", url, "--out", str(tmp_path / "r.html")),
        run_cli("trials", "nosuchstudy", "--storage", url),
        run_cli("search", spec, "--storage", url.replace(postgres_url.split("@")[1].split("/")[0], "127.0.0.1:1"),
                *common),
    ]  # fmt: skip
    assert [r.returncode for r in outputs] == [0, 0, 0, 0, 0, 0, 2, 2], [r.stderr for r in outputs]
    assert "***" in outputs[0].stdout  # the header shows the URL, redacted
    for r in outputs:
        assert SECRET not in r.stdout + r.stderr
    for path in tmp_path.iterdir():
        assert SECRET not in path.read_text()
    study = optuna.load_study(study_name="tiny", storage=url)
    assert SECRET not in json.dumps(study.user_attrs, default=str)
    assert all(SECRET not in json.dumps(t.user_attrs, default=str) for t in study.trials)


def _states(url: str) -> dict[int, str]:
    try:
        study = optuna.load_study(study_name="tiny", storage=url)
    except KeyError:  # the workers have not created it yet
        return {}
    return {t.number: t.state.name for t in study.get_trials(deepcopy=False)}


def test_a_server_restart_mid_search_loses_nothing(postgres: Server, mnist_root: Path, tmp_path: Path) -> None:
    """Restart PostgreSQL while two workers train: each either reconnects and goes on or ends
    with one line (exit 2); the same command resumes; no trial stays RUNNING, none is lost."""
    spec = quick_spec(tmp_path, unpruned=True, heartbeat_seconds=1)
    args = worker_args(spec, postgres.url, mnist_root, trials=6, subset=1500)
    workers = [
        subprocess.Popen(args, cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)
    ]
    deadline = time.monotonic() + 300
    while not ({"COMPLETE", "PRUNED"} & set(found := _states(postgres.url).values()) and "RUNNING" in found):
        assert time.monotonic() < deadline and all(w.poll() is None for w in workers), "no trial got going"
        time.sleep(0.2)
    before = {
        t.number: t.value
        for t in optuna.load_study(study_name="tiny", storage=postgres.url).trials
        if t.state.name == "COMPLETE"
    }
    postgres.restart()
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode in (0, 2), err
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
        if worker.returncode == 2:
            # the restart met a write ("storage error") or the opening of a connection
            assert ("storage error" in err or "cannot open storage" in err) and "run the same command again" in err
    again = subprocess.run(args, cwd=REPO, text=True, capture_output=True, timeout=600)
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="tiny", storage=postgres.url)
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(len(trials)))  # none lost, none duplicated
    assert "RUNNING" not in {t.state.name for t in trials}
    assert sum(t.state.name in ("COMPLETE", "PRUNED") for t in trials) >= 6
    assert {t.number: t.value for t in trials if t.number in before} == before  # finished trials untouched
