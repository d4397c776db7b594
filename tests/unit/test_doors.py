"""Every door has a size and reading never writes: files from outside are bounded before any
parser sees them, error lines quote a bounded prefix, a storage that keeps nothing is refused,
and a command that only reads never creates tables in a file it was pointed at."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import optuna
import pytest

from search.errors import TinynasError, nesting
from search.limits import MAX_NESTING, MAX_USER_FILE_BYTES
from search.study import load_spec, open_storage
from search.study.runner import queue_starts
from search.training import load_experiment
from tests.helpers import REPO

TINY = (REPO / "studies" / "tiny.toml").read_text()


def test_a_spec_nested_deeper_than_the_limit_is_one_line_not_a_recursion_error(tmp_path: Path) -> None:
    spec = tmp_path / "deep.toml"
    depth = 10 * MAX_NESTING
    spec.write_text(TINY + f"\nextra = {'[' * depth}1{']' * depth}\n")
    with pytest.raises(TinynasError, match=f"nests brackets {depth} deep"):
        load_spec(spec)


def test_a_config_json_nested_deeper_than_the_limit_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "deep.json"
    config.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(TinynasError, match="nests brackets 100000 deep"):
        load_experiment(str(config))


def test_brackets_inside_strings_and_comments_do_not_count(tmp_path: Path) -> None:
    assert nesting("a = \"[[[[\" # [[[[\nb = [[1], {c = '{{'}]\n") == 2
    assert nesting('{"a": "]]]]\\"[[[[", "b": [[]]}') == 3
    spec = tmp_path / "ok.toml"
    spec.write_text(TINY.replace('name = "tiny"', f'name = "tiny"  # {"[" * 200}'))
    assert load_spec(spec).name == "tiny"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    spec = tmp_path / "huge.toml"
    with spec.open("wb") as f:
        f.truncate(MAX_USER_FILE_BYTES + 1)
    with pytest.raises(TinynasError, match="bytes, more than"):
        load_spec(spec)


def test_a_huge_value_is_quoted_as_a_short_prefix(tmp_path: Path) -> None:
    spec = tmp_path / "long.toml"
    spec.write_text(TINY.replace("[run]", f'[run]\ntimeout = "{"9" * 1_000_000}x"'))
    with pytest.raises(TinynasError) as err:
        load_spec(spec)
    assert "cannot read duration" in str(err.value) and len(str(err.value)) < 1000


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory&uri=true"])
def test_an_in_memory_storage_is_refused(url: str) -> None:
    with pytest.raises(TinynasError, match="in-memory database"):
        open_storage(url, create=True)


def test_reading_an_empty_or_foreign_file_creates_nothing_in_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(TinynasError, match="holds no study"):
        open_storage(f"sqlite:///{empty}", create=False)
    assert empty.stat().st_size == 0
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("create table notes (text)")
    before = foreign.read_bytes()
    with pytest.raises(TinynasError, match="holds no study"):
        open_storage(f"sqlite:///{foreign}", create=False)
    assert foreign.read_bytes() == before


def test_starts_are_queued_once_each_in_one_pass() -> None:
    study = optuna.create_study()
    starts = [{"x": i, "y": "a"} for i in range(500)] + [{"x": 3, "y": "a"}]
    assert queue_starts(study, starts) == 500
    assert queue_starts(study, [{"x": 3.0, "y": "a"}, {"x": 600, "y": "a"}]) == 1  # 3.0 is the queued 3
    assert len(study.trials) == 501


def test_a_results_database_that_cannot_be_written_is_refused_before_any_training(tmp_path: Path, monkeypatch) -> None:
    from models import preset
    from search import api
    from search.training import Experiment

    def trained(*args, **kwargs):
        raise AssertionError("training started before the results database was checked")

    monkeypatch.setattr(api, "_retrain", trained)
    (tmp_path / "folder.db").mkdir()  # a folder where the SQLite file should be
    with pytest.raises(TinynasError, match=r"cannot record runs in .*pass --results with a database you can write"):
        api.retrain(
            Experiment(model=preset("seed-8k")), results=f"sqlite:///{tmp_path / 'folder.db'}", out=tmp_path / "run"
        )
    assert not (tmp_path / "run").exists()


def test_a_retrain_refused_after_the_results_check_leaves_no_results_database(tmp_path: Path) -> None:
    from models import preset
    from search import api
    from search.training import Experiment

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("the user's, not a run")  # the run folder is refused
    with pytest.raises(TinynasError, match="is not a run folder tinynas wrote"):
        api.retrain(Experiment(model=preset("seed-8k")), results=f"sqlite:///{tmp_path / 'r.db'}", out=tmp_path / "run")
    assert not (tmp_path / "r.db").exists()
    with pytest.raises(TinynasError, match=r"cannot write results database .*folder .* does not exist"):
        api.retrain(Experiment(model=preset("seed-8k")), results=f"sqlite:///{tmp_path / 'no' / 'r.db'}")


def test_a_teacher_cache_that_cannot_be_written_is_one_line_before_the_teacher_trains(
    tmp_path: Path, monkeypatch
) -> None:
    from search.training import teachers
    from search.training.recipe import Distill
    from tests.helpers import synthetic_split

    def trained(*args, **kwargs):
        raise AssertionError("the teacher trained before its cache was checked")

    (tmp_path / "cache").write_text("a file where the cache folder should be")
    monkeypatch.setenv("TINYNAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(teachers, "train_replicas", trained)
    split = synthetic_split(64, 1)
    with pytest.raises(TinynasError, match=r"cannot create the teacher cache .*set TINYNAS_CACHE to a writable folder"):
        teachers.teacher_for(Distill(teacher="seed-8k"), split, split)
