"""The bad-input suite: every mistake gets one clear line, a non-zero exit, no traceback,
and no change to any study database."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch

from models import preset
from search.study.record import record_study, user_attrs
from tests.helpers import REPO, make_spec, run_cli, run_synthetic

GOOD_SPEC = (REPO / "studies" / "tiny.toml").read_text()


@pytest.fixture(scope="module")
def dbs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dbs")
    run_synthetic(make_spec(name="tiny", **{"budget.max_params": 300}), folder / "study.db", trials=3)
    empty = optuna.create_study(study_name="empty", storage=f"sqlite:///{folder / 'empty.db'}")
    record_study(empty, make_spec(name="empty"), "accuracy", None)
    unmet = optuna.create_study(study_name="unmet", storage=f"sqlite:///{folder / 'unmet.db'}")
    record_study(unmet, make_spec(name="unmet"), "accuracy", None)
    unmet.add_trial(optuna.trial.create_trial(value=95.0, user_attrs=user_attrs(params=900)))
    plain = optuna.create_study(study_name="tiny", storage=f"sqlite:///{folder / 'plain.db'}")  # Optuna's own
    plain.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    (folder / "text.db").write_text("a text file, not a database\n")
    (folder / "blank.db").touch()
    return {name: folder / f"{name}.db" for name in ("study", "empty", "unmet", "plain", "text", "blank")}


@pytest.fixture(scope="module")
def broken_data(tmp_path_factory, mnist_root: Path) -> dict[str, Path]:
    """Copies of MNIST with one training-labels file truncated, or with the wrong magic."""
    roots = {}
    for kind in ("truncated", "magic"):
        root = tmp_path_factory.mktemp(kind)
        raw = root / "MNIST" / "raw"
        shutil.copytree(mnist_root / "MNIST" / "raw", raw)
        raw.chmod(0o755)
        labels = raw / "train-labels-idx1-ubyte"
        labels.chmod(0o644)
        data = labels.read_bytes()
        labels.write_bytes(data[:-100] if kind == "truncated" else b"\x00\x00\x08\x03" + data[4:])
        roots[kind] = root
    return roots


def spec_file(folder: Path, text: str) -> str:
    path = folder / "spec.toml"
    path.write_text(text)
    return str(path)


def raw_file(folder: Path, name: str, data: bytes) -> str:
    path = folder / name
    path.write_bytes(data)
    return str(path)


def a_file(folder: Path) -> str:
    (folder / "taken").write_text("not a folder")
    return str(folder / "taken")


def json_file(folder: Path, data: object) -> str:
    path = folder / "config.json"
    path.write_text(json.dumps(data))
    return str(path)


def checkpoint(folder: Path, experiment: dict) -> str:
    """A checkpoint as `retrain` writes it, with a hand-edited experiment."""
    path = folder / "checkpoint.pt"
    torch.save({"experiment": experiment, "state_dict": {}}, path)
    return str(path)


class _RunsCode:
    def __reduce__(self):  # unpickling this would create the file `pwned`
        return (Path.touch, (Path("pwned"),))


def code_checkpoint(folder: Path) -> str:
    """A pickle that runs code when a careless loader opens it."""
    path = folder / "checkpoint.pt"
    torch.save({"experiment": _RunsCode(), "state_dict": {}}, path)
    return str(path)


def big_model() -> dict:
    data = preset("seed-8k").to_dict()
    data["layers"][0]["out"] = 64  # 64 -> 8 ... with 64x64 at 28x28: far over 20,000 parameters
    data["layers"][3]["out"] = 64
    return data


CASES = {
    "malformed TOML": (lambda f, d: ["search", spec_file(f, "name = 'x'\n[budget\n")], "is not valid TOML"),
    "unknown key": (lambda f, d: ["search", spec_file(f, GOOD_SPEC + "\nshards = 3\n")], "shards: unknown key"),
    "wrong type": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("max_params = 5000", "max_params = '5k'"))],
                   "budget.max_params: Input should be a valid integer"),
    "max_params >= 20000": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("5000", "20000"))],
                            "not below 20,000"),
    "max_epochs >= 20": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("max_epochs = 4", "max_epochs = 25"))],
                         "not below 20"),
    "empty choices": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace('scheduler = "onecycle"', "scheduler = []"))],
                      "scheduler.choices: List should have at least 1 item"),
    "inverted range": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("low = 4, high = 12", "low = 12, high = 4"))],
                       "wrong way round"),
    "space over budget": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("max_params = 5000", "max_params = 100"))],
                          "smallest model of this space is over budget"),
    "unknown dataset": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace('"mnist"', '"cifar"'))],
                        "unknown dataset 'cifar'"),
    "missing data": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--data-dir", str(f / "nowhere")],
                     "tinynas data fetch mnist"),
    "truncated IDX": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--data-dir", str(d["truncated"])],
                      "train-labels-idx1-ubyte: header promises"),
    "wrong magic": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--data-dir", str(d["magic"])],
                    "wrong magic number 0x00000803"),
    "unreachable storage": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--storage",
                                          "postgresql+psycopg://nobody@127.0.0.1:1/none"], "cannot open storage"),
    "malformed storage URL": (lambda f, d: ["trials", "tiny", "--storage", "no such url"], "is not a storage URL"),
    "unknown study": (lambda f, d: ["trials", "nope", "--storage", "{study}"], "no study named 'nope'"),
    "export from empty study": (lambda f, d: ["export", "empty", "--storage", "{empty}", "--out", str(f / "b.json")],
                                "has no complete trials yet"),
    "unsatisfiable rule": (lambda f, d: ["export", "unmet", "--storage", "{unmet}", "--target", "99", "--out",
                                         str(f / "b.json")], "the best is trial"),
    "config schema version": (lambda f, d: ["retrain", json_file(f, {**preset("seed-8k").to_dict(), "schema_version": 9})],
                              "schema_version"),
    "config shape": (lambda f, d: ["retrain", json_file(f, {"model": {"layers": [{"type": "conv", "out": 8}]}})],
                     "the last layer outputs (8, 28, 28)"),
    "config not an object": (lambda f, d: ["retrain", json_file(f, [1, 2, 3])], "expected a JSON object"),
    "over the parameter ceiling": (lambda f, d: ["retrain", json_file(f, big_model())],
                                   "tinynas trains only models with fewer than 20,000 parameters"),
    "unknown preset": (lambda f, d: ["summary", "seed-9k"], "neither a preset"),
    "negative trials": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--trials", "-3", "--storage", "{study}"],
                        "--trials must be 1 to 100,000, got -3"),
    "20 epochs": (lambda f, d: ["retrain", "seed-8k", "--epochs", "20"], "fewer than 20"),
    "bad duration": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--timeout", "soon", "--storage", "{study}"],
                     "cannot read duration"),
    "spec not UTF-8": (lambda f, d: ["search", raw_file(f, "spec.toml", GOOD_SPEC.encode("utf-16"))],
                       "is not UTF-8 text"),
    "config not UTF-8": (lambda f, d: ["retrain", raw_file(f, "c.json", b'{"model": "\xff"}')], "is not UTF-8 text"),
    "spec is a folder": (lambda f, d: ["search", str(f)], "is a folder; pass a file"),
    "a missing spec whose path has brackets": (lambda f, d: ["search", str(f / "[x]" / "spec.toml")],
                                               "/[x]/spec.toml does not exist"),  # printed, not read as markup
    "nan in a range": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("low = 0.005", "low = nan"))],
                       "space.train.lr.range.low: Input should be a finite number"),
    "inf as a value": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("dropout = 0.0", "dropout = inf"))],
                       "space.model.dropout.fixed.float: Input should be a finite number"),
    "nan target": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("target = 97.0", "target = nan"))],
                   "target: Input should be a finite number"),
    "space of billions of channels": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace(
        "channels = {low = 4, high = 12, step = 2}", "channels = {low = 4, high = 4000000000}"))],
        "none of 1,000 random draws from this space gives a trainable model"),
    "subset 0": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--subset", "0", "--storage", "{study}"],
                 "--subset must be at least 1"),
    "export into a missing folder": (lambda f, d: ["export", "tiny", "--storage", "{study}", "--rule", "best", "--out",
                                                   str(f / "nowhere" / "b.json")], "does not exist; create it first"),
    "export --target nan": (lambda f, d: ["export", "tiny", "--storage", "{study}", "--target", "nan", "--out",
                                          str(f / "b.json")], "--target must be a percentage"),
    "report into a missing folder": (lambda f, d: ["report", "tiny", "--storage", "{study}", "--out",
                                                   str(f / "nowhere" / "r.html")], "does not exist; create it first"),
    "trials CSV into a missing folder": (lambda f, d: ["trials", "tiny", "--storage", "{study}", "--csv",
                                                       str(f / "nowhere" / "t.csv")], "does not exist; create it first"),
    "retrain --out is a file": (lambda f, d: ["retrain", "seed-8k", "--epochs", "1", "--out", a_file(f)],
                                "a file of that name exists"),
    # files and names from outside are data, never code or paths
    "a plain Optuna study": (lambda f, d: ["export", "tiny", "--storage", "{plain}", "--out", str(f / "b.json")],
                             "was not made by `tinynas search`"),
    "search into a plain Optuna study": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--storage", "{plain}"],
                                         "holds trials tinynas did not make"),
    "storage that is not a database": (lambda f, d: ["trials", "tiny", "--storage", "{text}"],
                                       "holds no study"),
    "a reading command on an empty file": (lambda f, d: ["trials", "tiny", "--storage", "{blank}"], "holds no study"),
    "an in-memory storage": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--storage", "sqlite://"],
                             "in-memory database"),
    "study name is a path": (lambda f, d: ["report", "../../x", "--storage", "{study}"], "is not a study name"),
    "study name is a path (default storage)": (lambda f, d: ["trials", "../x"], "is not a study name"),
    "spec name is a path": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace('name = "tiny"', 'name = "../x"'))],
                            "name: String should match pattern"),
    "checkpoint over the parameter ceiling": (lambda f, d: ["deploy", checkpoint(f, {"model": big_model()}),
                                                            "--out", str(f / "m.onnx")],
                                              "tinynas trains only models with fewer than 20,000 parameters"),
    "checkpoint over the epoch ceiling": (lambda f, d: ["deploy", checkpoint(f, {"model": preset("seed-8k").to_dict(),
                                                                                 "train": {"epochs": 25}}),
                                                        "--out", str(f / "m.onnx")], "train.epochs"),
    "checkpoint that runs code": (lambda f, d: ["deploy", code_checkpoint(f), "--out", str(f / "m.onnx")],
                                  "is not a checkpoint written by `tinynas retrain`"),
    "a mirror that is not a URL": (lambda f, d: ["data", "fetch", "mnist", "--mirror", "notaurl", "--data-dir",
                                                 str(f / "d")], "is not a URL"),
    # every count and duration bounded before anything is allocated or written
    "a billion seeds": (lambda f, d: ["retrain", "seed-8k", "--seeds", "1000000000", "--out", str(f / "r")],
                        "--seeds must be 1 to 16"),
    "more threads than cores": (lambda f, d: ["retrain", "seed-8k", "--threads", "100000", "--out", str(f / "r")],
                                "--threads must be 1 to"),
    "more workers than cores": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--jobs", "100000"],
                                "--jobs must be 1 to"),
    "10^21 trials": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--trials", "1" + "0" * 21],
                     "--trials must be 1 to 100,000"),
    "a timeout of centuries": (lambda f, d: ["search", spec_file(f, GOOD_SPEC), "--timeout", "99999999h"],
                               "at most 30 days"),
    "export --max-params 0": (lambda f, d: ["export", "tiny", "--storage", "{study}", "--max-params", "0",
                                            "--out", str(f / "b.json")], "--max-params must be 1 to 19,999"),
    "a cap below every trial": (lambda f, d: ["export", "tiny", "--storage", "{study}", "--max-params", "10",
                                              "--out", str(f / "b.json")], "at most 10 parameters; the smallest is trial"),
    "confirm a billion trials": (lambda f, d: ["export", "tiny", "--storage", "{study}", "--confirm", "1000000000",
                                               "--out", str(f / "b.json")], "--confirm must be 0 to 100"),
    "subset beyond the data": (lambda f, d: ["retrain", "seed-8k", "--subset", "1000000000", "--out", str(f / "r")],
                               "the training split holds 60,000 images"),
    "spec val_size beyond the data": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("[run]", "[run]\nval_size = 1000000000"))],
                                      "run.val_size: a count of validation images is 100 to 30,000, got 1,000,000,000"),
    "spec trials of 10^12": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("trials = 6", "trials = 1000000000000"))],
                             "run.trials: Input should be less than or equal to 100000"),
    "spec confirms a billion trials": (lambda f, d: ["search", spec_file(f, GOOD_SPEC.replace("[run]", "[run]\nconfirm = {top = 1000000000}"))],
                                       "run.confirm.top: Input should be less than or equal to 100"),
    "retrain --fused --sequential": (lambda f, d: ["retrain", "seed-8k", "--fused", "--sequential", "--out", str(f / "r")],
                                     "--sequential and --fused are two ways to train the seeds: pass one"),
    "retrain on no workers": (lambda f, d: ["retrain", "seed-8k", "--jobs", "0", "--out", str(f / "r")],
                              "--jobs must be 1 to"),
    "confirm on a million workers": (lambda f, d: ["export", "tiny", "--storage", "{study}", "--confirm", "2",
                                                   "--jobs", "1000000", "--out", str(f / "b.json")], "--jobs must be 1 to"),
}  # fmt: skip


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case: str, tmp_path: Path, dbs: dict[str, Path], broken_data, mnist_root: Path) -> None:
    make_args, expected = CASES[case]
    args = [a.format(**{k: f"sqlite:///{v}" for k, v in dbs.items()}) for a in make_args(tmp_path, broken_data)]
    if args[0] == "search" and "--storage" not in args:
        args += ["--storage", f"sqlite:///{dbs['study']}"]
    if args[0] in ("search", "retrain") and "--data-dir" not in args:
        args += ["--data-dir", str(mnist_root)]
    before = {name: digest(path) for name, path in dbs.items()}
    result = run_cli(*args, cwd=tmp_path, env={"TINYNAS_OFFLINE": "1"})  # missing data: never download here
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert {name: digest(path) for name, path in dbs.items()} == before
    assert not (tmp_path / "studies").exists()  # nothing created where the command ran
    assert not (tmp_path / "r").exists() and not (tmp_path / "pwned").exists() and not (tmp_path / "d").exists()


def test_dashboard_port_in_use_is_part_of_the_suite(dbs: dict[str, Path]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run_cli(
            "dashboard", "tiny", "--storage", f"sqlite:///{dbs['study']}", "--port", str(busy.getsockname()[1])
        )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "choose another --port" in result.stderr and "Traceback" not in result.stderr


def test_output_that_cannot_be_written_is_one_line_or_silence() -> None:
    """A full disk on stdout is one line and exit 1; a reader that went away (`| head`) ends the
    command quietly with 1: no traceback either way."""
    command = [sys.executable, "-m", "search", "presets"]
    with open("/dev/full", "w") as full:
        result = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: cannot write the output: No space left on device")
    closed = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert closed.stdout is not None and closed.stderr is not None
    closed.stdout.close()
    err = closed.stderr.read()
    assert closed.wait(timeout=120) == 1 and err == ""
