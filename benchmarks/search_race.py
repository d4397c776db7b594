"""The search race: plain Optuna against tinynas, same space, same cores.

Arms, run one after another (interleaved per search seed, so drift in the machine's speed
hits both), each on the same cores (--cores: all of them, or fewer when the machine is
shared):

- plain: the script a competent user writes. One process, Optuna's TPE with its defaults,
  one seed per trial, every trial trained for all its epochs, no pruning, widths drawn as
  channels; the parameters are counted before training (an over-budget draw, or one that
  does not fit the image, returns 0 at once). A trial's score is its final-epoch
  validation accuracy. It gets --plain-factor times the wall clock of a tinynas arm.
- tinynas: `tinynas.search` as shipped, with its defaults, on the same cores.
- optional arms (--arms): tinynas with one setting changed (e.g. the evolution sampler, or
  widths drawn as channels instead of budget sizing), to see what each lever buys.

Both arms use tinynas's trainer and the same split, so the race measures the search, not
the training loop. The reduced problem: 10,000 training images and a 5,000-image
validation split (both carved from the training images; the test set is never read),
5 epochs, at most 3,000 parameters; the space is REDUCED below.

One yardstick for every arm: each incumbent of a run (a trial that was the arm's best so
far, by its own score, when it ended: what it would have exported then) is re-measured
with the same 3 fresh seeds on the validation split (the mean of the last 2 epochs per
seed). Two verdicts per tinynas arm:

- v3: its final incumbent at T minutes against plain's at plain-factor x T, both
  re-measured: ahead or level (at most LEVEL below) in N of M search seeds.
- v2: plain's final incumbent at T, re-measured, is the target; an arm's time to target is
  when its re-measured incumbent first reaches it; speedup = plain's time / the arm's time
  (0 when it never does); the median over search seeds.

Results go to --out as each run finishes; a rerun skips those already there.

    python benchmarks/search_race.py --data-dir data --minutes 3 --plain-factor 3 --cores 1 \\
        --arms tinynas tinynas-evolution --out studies/results/search-race-v3.json
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import optuna
import plotly.graph_objects as go
import torch

import search as tinynas
from models import count_params
from search.data import data_root, dataset_info, search_splits
from search.limits import CONFIRM_SEED_OFFSET
from search.outputs import screenshot
from search.quiet import quiet_libraries
from search.study import Kind, StudySpec, TrialRecord, TrialSuggest, confirm_experiment, sample_model, sample_train
from search.training import Experiment, cpu_name, train_replicas

EPOCHS = 5
CONFIRM_SEEDS = 3
REDUCED = {
    "name": "race",
    "dataset": "mnist",
    "budget": {"max_params": 3000, "max_epochs": EPOCHS},
    "space": {
        "model": {
            "stages": 3, "convs_per_stage": {"low": 1, "high": 2}, "channels": {"low": 4, "high": 12, "step": 2},
            "shared": [0, 2], "transition": [False, True], "transition_channels": {"low": 4, "high": 8, "step": 2},
            "tail_convs": {"low": 0, "high": 1}, "head": "conv1x1", "bias": False, "order": ["relu-bn", "bn-relu"],
            "dropout": {"low": 0.0, "high": 0.1},
        },
        "train": {
            "optimizer": "adam", "lr": {"low": 0.003, "high": 0.03, "log": True}, "batch_size": [32, 64],
            "scheduler": ["linear", "onecycle"], "pct_start": {"low": 0.1, "high": 0.3}, "ema": [0.0, 0.999],
            "label_smoothing": [0.0, 0.05], "rotate": {"low": 0.0, "high": 10.0},
            "translate": {"low": 0.0, "high": 0.1}, "epochs": EPOCHS,
        },
    },
    "sampler": {"kind": "tpe", "startup_trials": 5},
    "run": {"trials": 100_000, "val_size": 5000, "subset": 10_000},
}  # fmt: skip
"""The race's study: the space and problem above; pruner, seeds per trial and workers are
tinynas's defaults (an optional arm overrides one). A tinynas arm trains 5-10 trials in a
few minutes of one core, so its sampler starts modelling after 5 random draws, not 10."""

LEVEL = 0.05
"""v3: a tinynas incumbent at most this many points below plain's, re-measured, is level with
it (the re-measured mean of 3 seeds on 5,000 images varies by 0.1-0.3 points between seeds)."""

EVOLUTION = {"kind": "evolution", "startup_trials": 5, "population": 10, "tournament": 3}
"""The evolution arm's sampler, sized like TPE's for a race of a few minutes."""

VARIANTS: dict[str, dict] = {
    "tinynas": {},
    "tinynas-2seeds": {"flags": {"seeds_per_trial": 2}},  # 2 seeds per trial, fused
    "tinynas-1worker": {"flags": {"jobs": 1, "threads": None}},  # one process on all cores
    "tinynas-noprune": {"spec": {"pruner": {"kind": "none"}}},
    "tinynas-evolution": {"spec": {"sampler": EVOLUTION}},  # aging evolution instead of TPE
    "tinynas-channels": {"model": {"sizing": "channels"}},  # widths drawn as channels, no budget sizing
    "tinynas-promotion": {"spec": {"pruner": {"kind": "promotion"}}},  # screened on a fifth of the images first
    "tinynas-fill": {"model": {"fill": {"low": 0.8, "high": 1.0}}},  # budget sizing spending 80-100% of it
    "tinynas-channels-promotion": {  # the two levers that measured best, together
        "model": {"sizing": "channels"},
        "spec": {"pruner": {"kind": "promotion"}},
    },
}
"""tinynas arms: the shipped defaults, and each with one lever changed (--arms)."""


def spec_for(seed: int, variant: dict | None = None) -> StudySpec:
    variant = variant or {}
    data = REDUCED | {"seed": seed} | variant.get("spec", {})
    model = data["space"]["model"] | variant.get("model", {})
    return StudySpec.model_validate(data | {"space": data["space"] | {"model": model}})


def plain_spec(seed: int) -> StudySpec:
    """The plain script draws each width as channels: budget sizing is tinynas's."""
    return spec_for(seed, {"model": {"sizing": "channels"}})


def plain_arm(spec: StudySpec, budget_s: float, root: Path) -> tuple[list[dict], list[float]]:
    """The hand-written script: its trials as (seconds, score, experiment), and when each
    trained one ended."""
    start = time.perf_counter()
    info = dataset_info(spec.dataset)
    train, val = search_splits(info, root, spec.run.val_size, spec.seed, spec.run.subset)
    points: list[dict] = []
    ends: list[float] = []

    def objective(trial: optuna.Trial) -> float:
        suggest = TrialSuggest(trial)
        try:
            model = sample_model(suggest, spec.space.model, info, spec.budget)
        except ValueError:
            return 0.0  # does not fit the image: nothing to train
        if count_params(model) > spec.budget.max_params:
            return 0.0  # counted before training, as anyone would
        cfg = sample_train(suggest, spec.space.train, seed=spec.seed).model_copy(update={"layout": "contiguous"})
        score = train_replicas(model, [cfg], train, val).histories[0].final_acc
        exp = Experiment(dataset=spec.dataset, model=model, train=cfg)
        seconds = time.perf_counter() - start
        points.append({"seconds": seconds, "score": score, "experiment": exp.model_dump(mode="json")})
        ends.append(seconds)
        return score

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=spec.seed))
    study.optimize(objective, timeout=max(1.0, budget_s - (time.perf_counter() - start)))
    return points, ends


def tinynas_arm(
    spec: StudySpec, budget_s: float, root: Path, workdir: Path, variant: dict, cores: int
) -> tuple[list[dict], list[float]]:
    """tinynas.search with its defaults (but the variant's): its complete trials as (seconds,
    score, experiment), and when each trained trial (complete or pruned; over-budget draws are
    never trained) ended."""
    started = datetime.now()  # Optuna stamps trials with naive local time
    flags = {"jobs": cores, "threads": 1} | variant.get("flags", {})  # tinynas's split: a worker per core
    study = tinynas.search(
        spec,
        storage=f"sqlite:///{workdir / f'race-{spec.seed}-{time.time_ns()}.db'}",
        data_dir=root,
        timeout=str(int(budget_s)),
        **flags,
    )
    points = []
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        record = TrialRecord.of(trial)
        points.append(
            {
                "seconds": (trial.datetime_complete - started).total_seconds(),
                "score": record.value,
                "experiment": record.experiment().model_dump(mode="json"),
            }
        )
    finished = [t for t in study.trials if TrialRecord.of(t).kind in (Kind.COMPLETE, Kind.PRUNED)]
    ends = sorted((t.datetime_complete - started).total_seconds() for t in finished if t.datetime_complete)
    return sorted(points, key=lambda p: p["seconds"]), ends


def within(points: list[dict], budget_s: float) -> list[dict]:
    return [p for p in points if p["seconds"] <= budget_s]


def incumbents(points: list[dict]) -> list[dict]:
    """The trials that were the arm's best so far when they ended (what it would have exported then)."""
    out, best = [], 0.0  # a score of 0 is an over-budget or impossible model: never an incumbent
    for p in sorted(points, key=lambda p: p["seconds"]):
        if p["experiment"] and p["score"] > best:
            best = p["score"]
            out.append(p)
    return out


@functools.cache
def _splits(seed: int, root: Path) -> tuple:
    """The race's (train, validation) split of a search seed, loaded once per process."""
    spec = spec_for(seed)
    return search_splits(dataset_info(spec.dataset), root, spec.run.val_size, spec.seed, spec.run.subset)


def remeasure(job: tuple[int, dict, Path]) -> dict:
    """A trial's configuration re-measured with CONFIRM_SEEDS fresh seeds on the validation split,
    as `tinynas export --confirm` measures (the same fresh seeds for every arm)."""
    seed, point, root = job
    exp = Experiment.model_validate(point["experiment"])
    train, val = _splits(seed, root)
    seeds = [seed + CONFIRM_SEED_OFFSET + i for i in range(CONFIRM_SEEDS)]
    confirmed = confirm_experiment(exp, seeds, train, val)
    return {
        "seconds": point["seconds"],
        "searched": point["score"],
        "params": count_params(exp.model),
        "confirmed": confirmed.mean,
        "per_seed": confirmed.per_seed,
        "seeds": seeds,
    }


def time_to_target(run: dict, target: float, budget_s: float) -> float | None:
    return next(
        (c["seconds"] for c in run["incumbents"] if c["seconds"] <= budget_s and c["confirmed"] >= target - 1e-9),
        None,
    )


def final(run: dict, budget_s: float) -> dict | None:
    """The run's last incumbent within the budget, re-measured: what it would export then."""
    inside = [c for c in run["incumbents"] if c["seconds"] <= budget_s]
    return inside[-1] if inside else None


def judge(results: dict, arm: str, budget_s: float) -> list[tuple[int, float, float | None, float | None]]:
    """v2, per search seed with both runs: (seed, target, plain's time, the arm's time); the
    target is plain's final incumbent at the arm's budget, re-measured."""
    out = []
    for seed in results["seeds"]:
        plain, other = results["runs"].get(f"plain/{seed}"), results["runs"].get(f"{arm}/{seed}")
        last = final(plain, budget_s) if plain else None
        if other is None or last is None:
            continue
        target = last["confirmed"]
        out.append((seed, target, time_to_target(plain, target, budget_s), time_to_target(other, target, budget_s)))
    return out


def verdict(results: dict, arm: str, budget_s: float, factor: float) -> list[tuple[int, float, float]]:
    """v3, per search seed with both runs: (seed, the arm's final incumbent at T, plain's at
    factor x T), both re-measured."""
    out = []
    for seed in results["seeds"]:
        plain, other = results["runs"].get(f"plain/{seed}"), results["runs"].get(f"{arm}/{seed}")
        p = final(plain, factor * budget_s) if plain else None
        o = final(other, budget_s) if other else None
        if p is not None and o is not None:
            out.append((seed, o["confirmed"], p["confirmed"]))
    return out


def anytime(run: dict, grid: list[float]) -> list[float | None]:
    """The re-measured accuracy of the run's incumbent at each time of the grid."""
    out, value, incs = [], None, run["incumbents"]
    i = 0
    for t in grid:
        while i < len(incs) and incs[i]["seconds"] <= t:
            value = incs[i]["confirmed"]
            i += 1
        out.append(value)
    return out


def figure(results: dict, arms: list[str], path: Path) -> None:
    """Re-measured incumbent against wall time: per arm the median over search seeds and the
    band from the lowest to the highest seed."""
    budget_s = results["minutes"] * 60
    grid = [budget_s * i / 200 for i in range(201)]
    colours = {"plain": "#d62728", "tinynas": "#1f77b4", "tinynas-2seeds": "#2ca02c", "tinynas-1worker": "#9467bd",
               "tinynas-noprune": "#ff7f0e"}  # fmt: skip
    fig = go.Figure()
    for arm in arms:
        curves = [anytime(r, grid) for k, r in sorted(results["runs"].items()) if k.split("/")[0] == arm]
        if not curves:
            continue
        xs, med, lo, hi = [], [], [], []
        for j, t in enumerate(grid):
            values = [c[j] for c in curves if c[j] is not None]
            if len(values) == len(curves):  # every seed has an incumbent by now
                xs.append(t / 60)
                med.append(statistics.median(values))
                lo.append(min(values))
                hi.append(max(values))
        colour = colours.get(arm, "#7f7f7f")
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=hi + lo[::-1], fill="toself", opacity=0.2, mode="none",
                                 fillcolor=colour, showlegend=False, hoverinfo="skip"))  # fmt: skip
        fig.add_trace(go.Scatter(x=xs, y=med, mode="lines", line={"color": colour, "shape": "hv"},
                                 name=f"{arm}: median of {len(curves)} search seeds (band: min to max)"))  # fmt: skip
    fig.update_layout(
        title=f"Incumbent re-measured with {CONFIRM_SEEDS} fresh seeds, against wall time<br><sup>"
        f"{results['problem']}; {results['minutes']:g} min per arm and search seed; {results['machine']}</sup>",
        xaxis_title="minutes",
        yaxis_title="re-measured validation accuracy of the incumbent (%)",
        xaxis={"range": [0, results["minutes"]]},
        width=1100,
        height=600,
        legend={"font": {"size": 12}, "x": 0.45, "y": 0.05},
    )
    path.write_text(fig.to_html(include_plotlyjs=True, full_html=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--minutes", type=float, default=5.0, help="wall-clock budget per tinynas arm and search seed")
    parser.add_argument("--plain-factor", type=float, default=3.0, help="plain's budget, in tinynas budgets")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="cores each arm runs on")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="search seeds")
    parser.add_argument("--arms", nargs="+", default=["tinynas"], choices=list(VARIANTS), help="tinynas arms")
    parser.add_argument("--out", type=Path, default=Path("search-race.json"))
    parser.add_argument("--figure", type=Path, default=None, help="a PNG of the Plotly figure (its HTML beside it)")
    parser.add_argument("--table", action="store_true", help="only print the table of --out")
    args = parser.parse_args()
    quiet_libraries()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("runs", {})
    cores, factor = args.cores, args.plain_factor
    results |= {
        "minutes": args.minutes,
        "plain_factor": factor,
        "cores": cores,
        "seeds": args.seeds,
        "machine": results.get("machine") or cpu_name(),
        "problem": f"{REDUCED['run']['subset']:,} training images, {REDUCED['run']['val_size']:,} validation, "
        f"{EPOCHS} epochs, <= {REDUCED['budget']['max_params']:,} params",
    }
    budget_s = args.minutes * 60
    arms = ["plain", *args.arms]
    with (
        tempfile.TemporaryDirectory() as tmp,
        mp.get_context("spawn").Pool(cores, initializer=torch.set_num_threads, initargs=(1,)) as pool,
    ):
        for seed in args.seeds if not args.table else []:
            for arm in arms:
                key = f"{arm}/{seed}"
                if key in results["runs"]:
                    continue
                arm_s = budget_s * (factor if arm == "plain" else 1.0)
                print(f"{key}: searching for {arm_s / 60:g} min ...", flush=True)
                torch.set_num_threads(cores)  # plain: one process on the arm's cores; tinynas sets its own
                if arm == "plain":
                    points, ends = plain_arm(plain_spec(seed), arm_s, args.data_dir)
                else:
                    variant = VARIANTS[arm]
                    points, ends = tinynas_arm(spec_for(seed, variant), arm_s, args.data_dir, Path(tmp), variant, cores)
                incs = incumbents(within(points, arm_s))
                remeasured = pool.map(remeasure, [(seed, p, args.data_dir) for p in incs], chunksize=1)
                results["runs"][key] = {"arm": arm, "points": points, "ends": ends, "incumbents": remeasured}
                args.out.write_text(json.dumps(results, indent=1))
                last = remeasured[-1] if remeasured else None
                said = "no incumbent" if last is None else (
                    f"last {last['params']:,} params, searched {last['searched']:.2f}, re-measured {last['confirmed']:.2f}"
                )  # fmt: skip
                print(
                    f"{key}: {sum(e <= arm_s for e in ends)} trials trained, {len(incs)} incumbents; {said}", flush=True
                )
    report(results, args.arms, budget_s, factor, cores)
    if args.figure:
        html = args.figure.with_suffix(".html")
        figure(results, arms, html)
        try:
            screenshot(html, args.figure, width=1120, height=620)
        except Exception as exc:  # no Chromium here: the HTML is still written
            print(f"(no PNG: {exc})")


def report(results: dict, arms: list[str], budget_s: float, factor: float, cores: int) -> None:
    """The table per arm and search seed, then each arm's two verdict lines."""
    minutes = budget_s / 60
    print(f"\n{results['problem']}; tinynas {minutes:g} min, plain {factor * minutes:g} min per search seed, "
          f"{cores} core(s) per arm; {results['machine']}")  # fmt: skip
    print(f"{'arm':<18} {'seed':>4} {'trials':>6} {'incumbent: params':>17} {'searched':>8} {'re-measured':>11}")
    for arm in ["plain", *arms]:
        arm_s = budget_s * (factor if arm == "plain" else 1.0)
        for seed in results["seeds"]:
            run = results["runs"].get(f"{arm}/{seed}")
            last = final(run, arm_s) if run else None
            if last is not None:
                print(f"{arm:<18} {seed:>4} {sum(e <= arm_s for e in run['ends']):>6} {last['params']:>17,} "
                      f"{last['searched']:>8.2f} {last['confirmed']:>11.2f}")  # fmt: skip
    for arm in arms:
        rows = verdict(results, arm, budget_s, factor)
        if rows:
            ahead = sum(o >= p - LEVEL for _, o, p in rows)
            print(f"{arm} at {minutes:g} min vs plain at {factor * minutes:g} min (re-measured): {arm} ahead or level "
                  f"(within {LEVEL} points) in {ahead} of {len(rows)} search seeds; "
                  + ", ".join(f"seed {s}: {o:.2f} vs {p:.2f}" for s, o, p in rows))  # fmt: skip
        judged = judge(results, arm, budget_s)
        ratios = [0.0 if t is None else (p or budget_s) / max(t, 1e-9) for _, _, p, t in judged]
        if ratios:
            print(f"{arm}: re-measured time-to-target speedup at {minutes:g} min each (v2, median of {len(ratios)} "
                  f"search seeds): {statistics.median(ratios):.2f}x (" + ", ".join(f"{r:.2f}x" for r in ratios) + ")")  # fmt: skip


if __name__ == "__main__":
    main()
