"""The search on tiny synthetic data: budgets held, trials stored, studies resumed, pruning."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import warnings
from pathlib import Path

import optuna
import pytest

from models import build, count_params
from search.cli.display import trial_line
from search.data import dataset_info
from search.errors import TinynasError
from search.limits import MAX_PARAMS
from search.signals import STOP_SIGNALS
from search.study import TrialRecord, check_space, finished, trials_frame
from search.study.pruning import dominated
from search.study.record import user_attrs
from search.study.space import RandomSuggest, sample_model
from search.study.spec import IntRange, ModelSpace
from tests.helpers import make_spec, run_synthetic, synthetic_split, write_npz

run = run_synthetic


def test_study_completes_then_resumes_adding_trials(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    study = run(make_spec(), db, trials=3)
    first = trials_frame(study)
    assert finished(study) == 3 and set(first["state"]) <= {"COMPLETE", "INFEASIBLE"}
    again = run(make_spec(), db, trials=5)
    second = trials_frame(again)
    assert finished(again) == 5
    shared = second.loc[first.index, ["val_acc", "params", "config_json"]]
    assert shared.equals(first[["val_acc", "params", "config_json"]])  # earlier trials unchanged
    complete = again.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    for r in map(TrialRecord.of, complete):  # every trial maps to exactly what retrain consumes
        assert r.params <= 1000 and r.experiment().train.epochs == 3
        assert len(r.val_curve) == 3 and r.macs > 0


def test_over_budget_configs_are_recorded_infeasible_without_training(tmp_path: Path) -> None:
    spec = make_spec(**{"budget.max_params": 160})
    study = run(spec, tmp_path / "s.db", trials=4)
    trials = study.get_trials()
    infeasible = [t for t in trials if TrialRecord.of(t).infeasible]
    assert infeasible, "the seeded random sampler should draw some configs over 160 params"
    for t in infeasible:
        r = TrialRecord.of(t)
        assert t.state == optuna.trial.TrialState.PRUNED
        assert r.params > 160 and t.constraints == {"params": r.params - 160}
        assert r.val_curve == () and t.duration.total_seconds() < 1.0
    for t in trials:
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert TrialRecord.of(t).params <= 160 and t.constraints["params"] <= 0


def test_a_draw_over_the_ceiling_is_recorded_infeasible_and_the_search_goes_on(tmp_path: Path) -> None:
    wide = {"s0_c0": 128, "pool0_transition": False, "s1_c0": 128, "tail_convs": 1, "tail0_c": 128}  # > 20,000 params
    spec = make_spec(**{"space.model.channels": {"low": 2, "high": 128, "step": 2}, "start": [wide]})
    study = run(spec, tmp_path / "s.db", trials=1)
    first = TrialRecord.of(study.trials[0])
    assert first.infeasible and first.params > MAX_PARAMS
    assert trials_frame(study).loc[0, "arch"].startswith("128 P 128")  # recorded as drawn
    assert finished(study) == 1 and not study.get_trials(states=(optuna.trial.TrialState.FAIL,))


def test_pruner_stops_hopeless_trials(tmp_path: Path) -> None:
    spec = make_spec(
        **{
            "space.train.lr": [0.05, 0.000001],
            "space.train.epochs": 3,
            "pruner": {"kind": "median", "min_epochs": 1, "startup_trials": 1},
        }
    )
    study = run(spec, tmp_path / "s.db", trials=8)
    pruned = [r for r in map(TrialRecord.of, study.get_trials()) if r.kind == "PRUNED"]
    assert pruned, "a learning rate of 1e-6 should be stopped against trials that learn"
    for r in pruned:
        assert len(r.val_curve) < 3
        assert r.sampled["lr"] == 0.000001


def test_multi_objective_study_gives_accuracy_and_params(tmp_path: Path) -> None:
    study = run(make_spec(objectives="accuracy+params"), tmp_path / "s.db", trials=3)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        assert t.values[1] == TrialRecord.of(t).params
    assert study.best_trials


@pytest.mark.parametrize("cost", ["macs", "activation_bytes", "weight_bytes"])
def test_a_pareto_study_may_trade_accuracy_for_what_a_device_pays(tmp_path: Path, cost: str) -> None:
    from models import analyse

    spec = make_spec(objectives=f"accuracy+{cost}", **{"pruner.kind": "median"})
    study = run(spec, tmp_path / "s.db", trials=3)
    assert study.metric_names == ["val_acc", cost]
    for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        assert t.values[1] == getattr(analyse(TrialRecord.of(t).experiment().model), cost)


def _finished(params: int, curve: list[float]) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        values=[curve[-1], params],
        user_attrs=user_attrs(params=params, val_curve=curve),
        distributions={},
        params={},
    )


def test_dominated_rule_compares_with_no_bigger_peers() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    for params, curve in [(1000, [90, 95]), (1200, [91, 96]), (1500, [92, 97]), (9000, [99, 99])]:
        study.add_trial(_finished(params, curve))
    assert dominated(study, 1, 2000, acc=89.0)  # below the median of 3 no-bigger peers
    assert not dominated(study, 1, 2000, acc=93.0)
    assert not dominated(study, 1, 1200, acc=50.0)  # only 2 peers are no bigger: not enough evidence


def test_shared_convs_are_drawn_per_stage_and_counted_exactly() -> None:
    space = ModelSpace(
        sizing="channels", stages=3, convs_per_stage=IntRange(low=0, high=3), shared=[0, 2, 3], channels=[4, 8]
    )
    info = dataset_info("mnist")
    repeats = set()
    for seed in range(40):
        model = sample_model(RandomSuggest(seed), space, info)
        repeats |= {layer.repeats for layer in model.layers if layer.type == "shared"}
        assert count_params(model) == sum(p.numel() for p in build(model).parameters())
    assert repeats == {2, 3}


def test_start_configurations_are_tried_first_and_only_once(tmp_path: Path) -> None:
    start = {"head": "conv1x1", "s0_c0": 6, "s1_c0": 4, "pool0_transition": False}
    spec = make_spec(start=[start], **{"sampler.kind": "tpe"})
    check_space(spec)
    run(spec, tmp_path / "s.db", trials=2)
    study = run(spec, tmp_path / "s.db", trials=4)  # resumed: the start is not queued again
    first, *rest = study.trials
    assert first.params.items() >= start.items()
    assert not any(t.params.items() >= start.items() for t in rest)


@pytest.mark.parametrize(
    ("start", "problem"),
    [
        ({"head": "gap", "tail_convs": 0, "s1_c0": 4}, "start[0]: s1_c0 is not a parameter of this space"),
        ({"s0_c0": 5}, "start[0]: s0_c0 = 5 is outside the space"),
        ({"head": "mlp"}, "head = 'mlp' is outside the space"),
    ],
)
def test_a_start_outside_the_space_is_refused_naming_the_key(start: dict, problem: str) -> None:
    with pytest.raises(TinynasError, match=re.escape(problem)):
        check_space(make_spec(start=[start]))


def test_a_space_whose_smallest_model_is_over_budget_is_refused() -> None:
    spec = make_spec(**{"budget.max_params": 50})
    with pytest.raises(TinynasError, match=r"smallest model of this space is over budget \([\d,]+ params > 50\)"):
        check_space(spec)


def test_a_device_bound_is_held_like_the_parameter_budget(tmp_path: Path) -> None:
    """Peak activations, MACs and weight bytes bound a study as hard as its parameters: budget
    sizing solves the widths within all of them, and what the space cannot fit is refused before
    anything runs, naming the bound."""
    from models import analyse

    bounds = {"budget.max_activation_bytes": 400, "budget.max_macs": 6_000, "budget.max_weight_bytes": 900}
    spec = make_spec(**bounds, **{"space.model.sizing": "budget"})  # trials run on 8x8 images
    study = run(spec, tmp_path / "s.db", trials=4)
    trained = [r for r in map(TrialRecord.of, study.get_trials()) if r.trained]
    assert len(trained) == 4
    for r in trained:
        stats = analyse(r.experiment().model)
        assert stats.activation_bytes <= 400 and stats.macs <= 6_000 and stats.weight_bytes <= 900
    message = r"smallest model of this space is over budget \([\d,]+ activation bytes > 100\)"
    with pytest.raises(TinynasError, match=message):
        check_space(make_spec(**{"budget.max_activation_bytes": 100}))


def test_a_draw_over_a_device_bound_is_recorded_with_what_it_broke(tmp_path: Path) -> None:
    spec = make_spec(**{"budget.max_macs": 3_000})
    study = run(spec, tmp_path / "s.db", trials=2)
    records = list(map(TrialRecord.of, study.get_trials()))
    over = [r for r in records if r.infeasible]
    assert over and all(r.over and "macs > 3,000" in r.over for r in over)
    assert all(r.macs is not None and r.macs <= 3_000 for r in records if r.trained)
    assert all(t.system_attrs["constraints:macs"] == TrialRecord.of(t).macs - 3_000 for t in study.get_trials())


def test_a_study_with_other_objectives_is_not_mixed(tmp_path: Path) -> None:
    run(make_spec(), tmp_path / "s.db", trials=1)
    with pytest.raises(TinynasError, match=r"already exists .* with other objectives"):
        run(make_spec(objectives="accuracy+params"), tmp_path / "s.db", trials=2)


def test_a_run_of_untrainable_draws_stops_with_one_clear_error(tmp_path: Path) -> None:
    spec = make_spec(**{"budget.max_params": 160, "run.infeasible_streak": 2, "sampler.kind": "random"})
    with pytest.raises(TinynasError, match=r"stopped after 2 draws in a row gave no trainable model .* budget"):
        run(spec, tmp_path / "s.db", trials=50)
    study = optuna.load_study(study_name="synthetic", storage=f"sqlite:///{tmp_path / 's.db'}")
    assert "RUNNING" not in {t.state.name for t in study.trials}


def test_a_space_with_no_trainable_draw_is_refused_before_any_trial() -> None:
    spec = make_spec(**{"space.model.channels": {"low": 2, "high": 4_000_000_000}})
    with pytest.raises(TinynasError, match="none of 1,000 random draws"):
        check_space(spec)


def test_specs_refuse_non_finite_numbers() -> None:
    with pytest.raises(ValueError, match="finite number"):
        make_spec(**{"space.train.lr": {"low": float("nan"), "high": 0.1}})
    with pytest.raises(ValueError, match="finite number"):
        make_spec(**{"space.model.dropout": float("inf")})


def test_a_trial_with_several_seeds_scores_their_mean(tmp_path: Path) -> None:
    spec = make_spec(**{"run.seeds_per_trial": 3, "budget.max_params": 400})
    study = run(spec, tmp_path / "s.db", trials=2)
    complete = [TrialRecord.of(t) for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))]
    assert complete
    for r in complete:
        assert r.seeds == (0, 1, 2) and len(r.val_curves) == 3
        assert list(r.val_curve) == pytest.approx([sum(c[i] for c in r.val_curves) / 3 for i in range(3)])
        assert r.value == pytest.approx(sum(sum(c[-2:]) / 2 for c in r.val_curves) / 3)


def test_the_cores_are_split_into_one_thread_workers_unless_the_user_says_otherwise(monkeypatch) -> None:
    from search.training import device

    monkeypatch.setattr(device, "cores", lambda: 4)
    monkeypatch.setattr(device, "resolve_device", lambda name: name)  # as if this machine had a GPU
    R = device.Resources
    assert device.resources("cpu") == R("cpu", 4, 1)  # a CPU: one worker per core
    assert device.resources("cpu", None, 2) == R("cpu", 1, 2)  # threads alone: one worker
    assert device.resources("cpu", 2, None) == R("cpu", 2, 2)  # workers alone: the cores shared out
    assert device.resources("cpu", 3, 1) == R("cpu", 3, 1)
    assert device.resources("cuda") == R("cuda", 1, None)
    assert device.fastest_layout("cpu", 1, 1) == device.fastest_layout("cpu", 2, 4) == "channels_last"
    assert device.fastest_layout("cpu", 1, 4) == device.fastest_layout("cuda", 1, None) == "contiguous"


def test_a_search_records_the_layout_it_trained_in(tmp_path: Path) -> None:
    for seeds, threads, layout in ((1, 2, "contiguous"), (1, 1, "channels_last"), (2, 2, "channels_last")):
        db = tmp_path / f"{seeds}-{threads}.db"
        study = run(make_spec(**{"run.seeds_per_trial": seeds}), db, trials=2, threads=threads)
        complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        assert complete and {TrialRecord.of(t).experiment().train.layout for t in complete} == {layout}


def test_workers_stop_at_the_target_counting_trials_still_training(tmp_path: Path) -> None:
    """Two workers asked for 3 trials must not end with 4: a worker stops when the finished
    trials plus those another worker is training reach the target."""
    from search.study.stopping import StopAt

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}")
    study.ask()  # another worker's trial, still training
    study.optimize(lambda trial: 1.0, n_trials=10, callbacks=[StopAt(3)])
    states = [t.state.name for t in study.trials]
    assert states == ["RUNNING", "COMPLETE", "COMPLETE"]  # 2 here + 1 still training = the target


@pytest.mark.parametrize("retries_left", [True, False])
def test_a_trial_taken_over_by_another_run_is_left_to_its_retry_and_the_search_goes_on(
    tmp_path: Path, monkeypatch, retries_left: bool
) -> None:
    """While the database was unreachable (or the machine overloaded) a worker's heartbeat fell
    silent, so another worker failed its trial and, retries left, queued the configuration
    again: the first worker cannot record that trial any more, and goes on with the next one
    instead of crashing."""
    from search.study import objective as objective_module

    original = objective_module.record_curves
    taken: list[int] = []

    def taken_over_mid_training(trial: optuna.Trial, curves: list) -> None:
        if not taken:  # what another worker's fail_stale_trials does to a silent trial
            taken.append(trial.number)
            trial.study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
            frozen = next(t for t in trial.study.get_trials() if t.number == trial.number)
            optuna.storages.RetryHeartbeatStaleTrialCallback(3 if retries_left else 0)(trial.study, frozen)
        original(trial, curves)  # refused now: the trial is finished

    monkeypatch.setattr(objective_module, "record_curves", taken_over_mid_training)
    study = run(make_spec(), tmp_path / "s.db", trials=3)
    trials = {t.number: t for t in study.get_trials()}
    assert trials[taken[0]].state.name == "FAIL" and finished(study) == 3
    retries = [t for t in trials.values() if taken[0] in t.system_attrs.get("retry_history", ())]
    assert len(retries) == retries_left
    assert all(t.state.name == "COMPLETE" and t.params == trials[taken[0]].params for t in retries)


def test_an_error_of_the_objective_itself_still_ends_the_search(tmp_path: Path, monkeypatch) -> None:
    from search.study import objective as objective_module

    def broken(trial: optuna.Trial, curves: list) -> None:
        raise RuntimeError("a bug in training")

    monkeypatch.setattr(objective_module, "record_curves", broken)
    with pytest.raises(RuntimeError, match="a bug in training"):
        run(make_spec(), tmp_path / "s.db", trials=3)


class _StopAfterEachTrial:
    """A watcher that sends this process SIGTERM as each trial finishes (a service being stopped)."""

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    def __enter__(self) -> _StopAfterEachTrial:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def stopping(self) -> None:
        pass


@pytest.mark.parametrize("door", ["search", "worker"])
def test_a_program_that_ran_a_search_gets_its_stop_signals_back_after_a_stop(tmp_path: Path, door: str) -> None:
    """A stop leaves SIGINT, SIGTERM and SIGHUP ignored while the search winds down; the program
    that ran it in-process (a notebook, a service) has its own handlers back afterwards."""
    from search import api

    def own(signum: int, frame: object) -> None:
        pass

    for sig in STOP_SIGNALS:  # the fixture puts pytest's back after the test
        signal.signal(sig, own)
    spec = make_spec(dataset=str(write_npz(tmp_path / "d.npz")), **{"run.val_size": 0.2, "space.train.epochs": 1})
    url = f"sqlite:///{tmp_path / 's.db'}"
    with pytest.raises(KeyboardInterrupt):
        getattr(api, door)(spec, trials=3, storage=url, jobs=1, threads=1, make_watcher=lambda s: _StopAfterEachTrial())
    assert [t.state.name for t in api.load_study("synthetic", url).get_trials()] == ["COMPLETE"], "it did stop"
    assert {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} == dict.fromkeys(STOP_SIGNALS, own)


def test_a_search_can_end_by_confirming_its_top_trials(tmp_path: Path, monkeypatch) -> None:
    from search.study import SearchOptions
    from search.study import confirm as confirming
    from search.study.record import StudyRecord

    spec = make_spec(**{"run.confirm": {"top": 2, "seeds": 2}})
    db = tmp_path / "s.db"
    study = run(spec, db, trials=4)
    splits = (synthetic_split(192, 1), synthetic_split(96, 2))
    monkeypatch.setattr("search.study.confirm._splits", lambda *args: splits)
    opts = SearchOptions(storage=f"sqlite:///{db}", trials=4, data_root=tmp_path)
    heard: list = []
    feed = confirming.ConfirmFeed(
        starting=lambda todo, seeds, workers, top: heard.append(("starting", [r.number for r in todo], seeds, top)),
        epoch=heard.append,
        confirmed=lambda record, c: heard.append(("confirmed", record.number)),
    )
    outcome = confirming.confirm_best(study, spec, opts, feed)
    confirmed = outcome.done
    assert (outcome.top, outcome.cut) == (2, False)
    # the display heard which trials, then every epoch of each (the mean of its seeds), then each result
    assert heard[0] == (
        "starting",
        list(confirmed),
        2,
        (2, len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)))),
    )
    for number in confirmed:
        news = [n for n in heard if isinstance(n, confirming.ConfirmEpoch) and n.trial == number]
        assert [n.epoch for n in news] == [1, 2, 3]  # the synthetic spec's 3 epochs
        assert all(n.epochs == 3 and 0 <= n.val_acc <= 100 and n.seconds > 0 for n in news)
        assert heard.index(("confirmed", number)) > heard.index(news[-1])
    top = sorted((TrialRecord.of(t) for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))),
                 key=lambda r: -r.score)[:2]  # fmt: skip
    assert sorted(confirmed) == sorted(r.number for r in top)
    assert StudyRecord.of(study).confirmed == confirmed  # recorded on the study
    assert all(len(c.seeds) == 2 and 0 <= c.mean <= 100 for c in confirmed.values())
    from search.outputs.export import searched_confirmations

    assert searched_confirmations(study) == confirmed  # what export picks by


def test_news_from_jobs_reaches_the_caller_from_worker_processes_too() -> None:
    from search.training import Resources
    from search.training.parallel import in_workers
    from tests.helpers import tell_twice

    for workers in (1, 2):
        heard: list = []
        results = list(in_workers(tell_twice, [1, 2, 3], Resources("cpu", workers, 1), heard.append))
        assert results == [10, 20, 30]
        assert sorted(heard) == sorted((j, w) for j in (1, 2, 3) for w in ("started", "ending"))
        assert all(heard.index((j, "started")) < heard.index((j, "ending")) for j in (1, 2, 3))


def test_long_lived_workers_run_each_in_a_process_of_its_own_and_failures_are_counted(tmp_path: Path) -> None:
    from search.training.parallel import in_processes
    from tests.helpers import note_pid_then_exit

    jobs = [(str(tmp_path / "a"), 0), (str(tmp_path / "b"), 3), (str(tmp_path / "c"), 0)]
    assert in_processes(note_pid_then_exit, jobs) == 1  # one of three failed
    pids = {int(Path(path).read_text()) for path, _ in jobs}
    assert len(pids) == 3 and os.getpid() not in pids


def test_confirmation_gets_only_the_time_the_timeout_leaves(tmp_path: Path, monkeypatch) -> None:
    import time

    from search.study import SearchOptions
    from search.study import confirm as confirming

    spec = make_spec(**{"run.confirm": {"top": 2, "seeds": 2}})
    db = tmp_path / "s.db"
    study = run(spec, db, trials=3)
    spent = SearchOptions(storage=f"sqlite:///{db}", trials=3, data_root=tmp_path, deadline=time.monotonic())
    outcome = confirming.confirm_best(study, spec, spent)
    assert outcome.cut and not outcome.done and outcome.top == 2  # skipped: nothing left
    skipped = SearchOptions(storage=f"sqlite:///{db}", trials=3, data_root=tmp_path, confirm=False)
    assert confirming.confirm_best(study, spec, skipped).top == 0  # --no-confirm

    def slow(*args, **kwargs):
        time.sleep(30)

    monkeypatch.setattr(confirming, "confirm", slow)
    started = time.monotonic()
    soon = SearchOptions(storage=f"sqlite:///{db}", trials=3, data_root=tmp_path, deadline=started + 0.5)
    outcome = confirming.confirm_best(study, spec, soon)
    assert outcome.cut and time.monotonic() - started < 5  # cut at the deadline, not after the work


def test_a_trial_in_flight_at_the_deadline_is_cut_and_queued_again(tmp_path: Path, monkeypatch) -> None:
    import time

    from search.study import objective as objective_module
    from search.study import runner
    from tests.helpers import SYNTHETIC

    spec = make_spec()
    db = tmp_path / "s.db"
    real = objective_module.train_replicas

    def slow_train(*args, **kwargs):
        time.sleep(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(objective_module, "train_replicas", slow_train)
    opts = runner.SearchOptions(storage=f"sqlite:///{db}", trials=5, data_root=tmp_path)
    ctx = runner.SearchContext(spec, SYNTHETIC, synthetic_split(192, 1), synthetic_split(96, 2))
    study = runner.open_study(spec, opts)
    started = time.monotonic()
    opts = dataclasses.replace(opts, deadline=started + 1)  # a second from now, however long opening took
    runner.optimize(study, ctx, opts)  # returns normally: the deadline is not an interrupt
    assert time.monotonic() - started < 10
    states = [t.state.name for t in study.get_trials()]
    assert "RUNNING" not in states and states.count("FAIL") == 1 and states.count("WAITING") == 1


@pytest.mark.parametrize("kind", ["random", "tpe", "evolution", "nsga2"])
def test_two_runs_of_one_spec_started_together_draw_different_configurations(tmp_path: Path, kind: str) -> None:
    """Two `tinynas search` of the same spec on one storage start with the same sampler seed;
    their trials still draw apart (each trial from its own seed), and a rerun draws the same."""
    from search.study.samplers import make_sampler
    from search.study.spec import SamplerSpec

    def draws(storage: str) -> list[tuple]:
        directions = ["maximize", "minimize"] if kind == "nsga2" else ["maximize"]
        runs = [
            optuna.create_study(storage=storage, study_name="s", directions=directions, load_if_exists=True,
                                sampler=make_sampler(SamplerSpec(kind=kind), seed=5))
            for _ in range(2)
        ]  # fmt: skip
        drawn = []
        for _ in range(6):  # the two runs ask in turn, as two processes starting together do
            for study in runs:
                trial = study.ask()
                drawn.append((trial.suggest_int("width", 2, 64), trial.suggest_float("lr", 1e-4, 1e-1, log=True)))
                study.tell(trial, [trial.params["width"], 1.0] if kind == "nsga2" else trial.params["width"])
        return drawn

    first = draws(f"sqlite:///{tmp_path / 'a.db'}")
    assert len(set(first)) == len(first), first
    assert draws(f"sqlite:///{tmp_path / 'b.db'}") == first  # the same runs again draw the same


def test_a_trial_cut_by_a_stop_resumes_from_its_last_epoch_when_the_search_does(tmp_path: Path, monkeypatch) -> None:
    from search.limits import CACHE_ENV
    from search.study import objective as objective_module
    from search.study import runner
    from tests.helpers import SYNTHETIC

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    spec = make_spec(**{"budget.max_epochs": 4, "space.train.epochs": 4})
    uncut = run(spec, tmp_path / "uncut.db", trials=1).get_trials()[0]
    assert not any((tmp_path / "cache" / "runs").iterdir()), "a finished trial leaves no state"

    real_train, real_record = objective_module.train_replicas, objective_module.record_curves
    steps: list[int] = []
    monkeypatch.setattr(
        objective_module, "train_replicas", lambda *a, **k: real_train(*a, on_step=lambda *_: steps.append(1), **k)
    )

    def record_then_stop(trial, curves) -> None:  # Ctrl-C as epoch 2's curve is being recorded
        real_record(trial, curves)
        if len(curves[0]) == 2 and trial.number == 0:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(objective_module, "record_curves", record_then_stop)
    db = tmp_path / "cut.db"
    opts = runner.SearchOptions(storage=f"sqlite:///{db}", trials=1, data_root=tmp_path)
    ctx = runner.SearchContext(spec, SYNTHETIC, synthetic_split(192, 1), synthetic_split(96, 2))
    study = runner.open_study(spec, opts)
    with pytest.raises(KeyboardInterrupt):
        runner.optimize(study, ctx, opts)
    assert [t.state.name for t in study.get_trials()] == ["FAIL", "WAITING"]
    all_steps, steps[:] = len(steps) * 2, []  # it had trained 2 of the 4 epochs

    runner.optimize(study, ctx, opts)  # the same command again
    retried = study.get_trials()[1]
    assert len(steps) == all_steps // 2, "the retry trained epochs 3 and 4 only"
    assert retried.params == uncut.params and retried.value == uncut.value
    assert TrialRecord.of(retried).val_curve == TrialRecord.of(uncut).val_curve, "its curve holds every epoch"
    assert TrialRecord.of(retried).taken_up == (2,) and TrialRecord.of(uncut).taken_up == (0,)
    assert "(4 epochs, 2 taken up)" in trial_line(TrialRecord.of(retried), None), "its line says so"
    promoted = dataclasses.replace(TrialRecord.of(retried), taken_up=(6, 2))  # its rung's run was cut too
    assert "(4 epochs, 6 + 2 taken up)" in trial_line(promoted, None), "each run's share, not a sum past its epochs"


def test_a_queued_configuration_trains_as_drawn_though_the_spec_changed_its_ranges_since(tmp_path: Path) -> None:
    from search.study.retries import Requeue

    space = {"space.train.lr": {"low": 0.01, "high": 0.02}, "space.train.batch_size": [16, 32]}
    db = tmp_path / "s.db"
    study = run(make_spec(**space), db, trials=1)
    Requeue(died=False)(study, study.get_trials()[0])  # as a stop queues the trial it cut
    # the user edits the spec before resuming: the drawn values now lie outside both
    changed = {"space.train.lr": {"low": 0.03, "high": 0.05}, "space.train.batch_size": [64, 128]}
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        study = run(make_spec(**changed), db, trials=2)
    first, retry = study.get_trials()[:2]
    assert retry.state.name == "COMPLETE", "a changed list of choices did not fail the retry"
    assert retry.params == first.params, "the retry trained the configuration it was"
    assert TrialRecord.of(retry).config == TrialRecord.of(first).config
    assert not [w for w in said if "Inconsistent parameter values" in str(w.message)], "nor was a mistake claimed"


def test_a_configuration_is_queued_again_after_every_stop_but_given_up_after_its_process_dies_too_often(
    tmp_path: Path,
) -> None:
    from optuna.trial import TrialState

    from search.limits import TRIAL_RETRIES
    from search.study.owners import retry_trial

    study = optuna.create_study(storage=f"sqlite:///{tmp_path / 's.db'}")
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    study.add_trial(optuna.create_trial(state=TrialState.FAIL, params={"x": 0.5}, distributions=dist))

    def fail_the_retry_and_queue_it(died: bool) -> bool:
        failed = study.get_trials(deepcopy=False)[-1]
        if failed.state == TrialState.WAITING:
            trial = study.ask()  # the queued configuration is the next one asked for
            assert trial.params == {"x": 0.5} and trial.number == failed.number
            study.tell(trial, state=TrialState.FAIL)
        return retry_trial(study, study.get_trials(deepcopy=False)[-1].number, died=died)

    for _ in range(TRIAL_RETRIES + 3):  # a search of hours, stopped and resumed again and again
        fail_the_retry_and_queue_it(died=False)
        assert study.get_trials(deepcopy=False)[-1].state == TrialState.WAITING
    for _ in range(TRIAL_RETRIES):
        fail_the_retry_and_queue_it(died=True)
        assert study.get_trials(deepcopy=False)[-1].state == TrialState.WAITING
    fail_the_retry_and_queue_it(died=True)
    assert study.get_trials(deepcopy=False)[-1].state == TrialState.FAIL, "given up after 3 deaths"
    original = optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(study.get_trials()[-1])
    assert original == 0, "Optuna's helpers still find the configuration's first trial"
