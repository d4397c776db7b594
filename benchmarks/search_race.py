"""The search race: plain Optuna against tinynas, same space, same wall-clock budget, one machine.

Arms, run one after another (interleaved per search seed, so drift in the machine's speed
hits both):

- plain: what a user writes by hand. Optuna's TPE with its defaults, one seed per trial,
  every trial trained for all its epochs, no pruning; the parameter budget is applied after
  training (an over-budget model is trained, then scored 0); an architecture that does not
  fit the image also scores 0. A trial's score is its final-epoch validation accuracy.
- tinynas: `tinynas.search` as shipped, on the same space: the budget computed before
  anything is built (over-budget draws cost milliseconds and teach the sampler through
  Optuna's constraints), Hyperband over epochs, 2 seeds per trial trained fused and scored
  by their mean of the last 2 epochs, SQLite storage.

Both arms use tinynas's trainer and the same split, so the race measures the search, not
the training loop. The reduced problem: 10,000 training images and a 5,000-image
validation split (both carved from the training images; the test set is never read),
5 epochs, at most 3,000 parameters; the space is REDUCED below.

For each search seed and arm: the best-so-far validation accuracy against wall time,
then the arm's pick (its best trial within the budget) re-measured with 3 fresh seeds,
fused, on the validation split (the mean of the last 2 epochs per seed, the same yardstick
for both arms), so a lucky seed cannot win. The target of a search seed is the plain
arm's confirmed accuracy; time to target is when an arm's best-so-far (as searched) first
reaches it. speedup = plain time / tinynas time; when plain's own curve never reaches its
confirmed value, its time is the whole budget (that speedup is then a lower bound, and the
script says so); when tinynas never reaches it, the speedup is 0. The last line is the
median over search seeds.

Results go to --out as each (arm, seed) finishes; a rerun skips those already there.
With --incumbents, every incumbent of every run (each trial that was the arm's best so far
when it ended) is also re-measured with the same fresh seeds, and the script prints when
each arm's incumbent, so measured, first reached the target: the same race judged by one
yardstick for both arms instead of by each arm's own searched score.

    python benchmarks/search_race.py --data-dir data --threads 1 --minutes 10 \\
        --out studies/results/search-race.json --figure studies/results/search-race.png
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import optuna
import plotly.graph_objects as go

import search as tinynas
from models import count_params
from search.data import data_root, dataset_info, search_splits
from search.limits import CONFIRM_SEED_OFFSET
from search.outputs import screenshot
from search.quiet import quiet_libraries
from search.study import Kind, StudySpec, TrialRecord, TrialSuggest, confirm_experiment, sample_model, sample_train
from search.training import Experiment, cpu_name, set_threads, train_replicas

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
    "sampler": {"kind": "tpe"},
    "pruner": {"kind": "hyperband", "min_epochs": 1, "reduction_factor": 3},
    "run": {"trials": 100_000, "val_size": 5000, "subset": 10_000, "seeds_per_trial": 2},
}  # fmt: skip


def spec_for(seed: int) -> StudySpec:
    return StudySpec.model_validate(REDUCED | {"seed": seed})


def plain_arm(spec: StudySpec, budget_s: float, root: Path) -> tuple[list[dict], list[float]]:
    """The hand-written script: its trials as (seconds, score, experiment), and when each ended."""
    start = time.perf_counter()
    info = dataset_info(spec.dataset)
    train, val = search_splits(info, root, spec.run.val_size, spec.seed, spec.run.subset)
    points: list[dict] = []

    def objective(trial: optuna.Trial) -> float:
        suggest = TrialSuggest(trial)
        try:
            model = sample_model(suggest, spec.space.model, info)
        except ValueError:
            score, exp = 0.0, None
        else:
            cfg = sample_train(suggest, spec.space.train, seed=spec.seed)
            history = train_replicas(model, [cfg], train, val).histories[0]
            score = history.final_acc if count_params(model) <= spec.budget.max_params else 0.0
            exp = Experiment(dataset=spec.dataset, model=model, train=cfg)
        points.append(
            {
                "seconds": time.perf_counter() - start,
                "score": score,
                "experiment": exp.model_dump(mode="json") if exp else None,
            }
        )
        return score

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=spec.seed))
    study.optimize(objective, timeout=max(1.0, budget_s - (time.perf_counter() - start)))
    return points, [p["seconds"] for p in points]


def tinynas_arm(
    spec: StudySpec, budget_s: float, root: Path, threads: int, workdir: Path
) -> tuple[list[dict], list[float]]:
    """tinynas.search as shipped: its complete trials as (seconds, score, experiment), and when
    each trained trial (complete or pruned; over-budget draws are never trained) ended."""
    started = datetime.now()  # Optuna stamps trials with naive local time
    study = tinynas.search(
        spec,
        storage=f"sqlite:///{workdir / f'race-{spec.seed}.db'}",
        data_dir=root,
        threads=threads,
        timeout=str(int(budget_s)),
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


def best_so_far(points: list[dict]) -> list[tuple[float, float]]:
    curve, best = [], float("-inf")
    for p in sorted(points, key=lambda p: p["seconds"]):
        if p["score"] > best:
            best = p["score"]
            curve.append((p["seconds"], best))
    return curve


def time_to(curve: list[tuple[float, float]], target: float) -> float | None:
    return next((t for t, best in curve if best >= target), None)


@functools.cache
def _splits(seed: int, root: Path) -> tuple:
    """The race's (train, validation) split of a search seed, loaded once for all confirmations."""
    spec = spec_for(seed)
    return search_splits(dataset_info(spec.dataset), root, spec.run.val_size, spec.seed, spec.run.subset)


def confirm_point(spec: StudySpec, point: dict, root: Path) -> dict:
    """A trial's configuration re-measured with CONFIRM_SEEDS fresh seeds on the validation split."""
    exp = Experiment.model_validate(point["experiment"])
    train, val = _splits(spec.seed, root)
    seeds = [spec.seed + CONFIRM_SEED_OFFSET + i for i in range(CONFIRM_SEEDS)]
    confirmed = confirm_experiment(exp, seeds, train, val)
    return {
        "seconds": point["seconds"],
        "searched": point["score"],
        "params": count_params(exp.model),
        "confirmed": confirmed.mean,
        "per_seed": confirmed.per_seed,
        "seeds": seeds,
    }


def confirm_pick(spec: StudySpec, points: list[dict], root: Path) -> dict:
    return confirm_point(spec, max((p for p in points if p["experiment"]), key=lambda p: p["score"]), root)


def incumbents(points: list[dict]) -> list[dict]:
    """The trials that were the arm's best so far when they ended (what it would have exported then)."""
    out, best = [], 0.0  # a score of 0 is an over-budget or impossible model: never an incumbent
    for p in sorted(points, key=lambda p: p["seconds"]):
        if p["experiment"] and p["score"] > best:
            best = p["score"]
            out.append(p)
    return out


def summarise(results: dict) -> tuple[list[dict], list[float], bool]:
    budget_s = results["minutes"] * 60
    rows, speedups, lower_bound = [], [], False
    for seed in results["seeds"]:
        plain, ours = results["runs"].get(f"plain/{seed}"), results["runs"].get(f"tinynas/{seed}")
        if plain is None or ours is None:
            continue
        target = plain["pick"]["confirmed"]
        times = {}
        for run in (plain, ours):
            t = time_to(best_so_far(within(run["points"], budget_s)), target)
            times[run["arm"]] = t
            rows.append(
                {
                    "arm": run["arm"],
                    "seed": seed,
                    "trials": sum(end <= budget_s for end in run["ends"]),
                    "params": run["pick"]["params"],
                    "searched": run["pick"]["searched"],
                    "confirmed": run["pick"]["confirmed"],
                    "target": target,
                    "time_to_target": t,
                }
            )
        t_plain = times["plain"]
        if t_plain is None:
            t_plain, lower_bound = budget_s, True
        speedups.append(0.0 if times["tinynas"] is None else t_plain / times["tinynas"])
    return rows, speedups, lower_bound


def confirmed_speedups(results: dict) -> list[tuple[int, float | None, float | None]]:
    """Per search seed: when each arm's incumbent, re-measured with fresh seeds, first reached
    the plain arm's final confirmed accuracy (None: never within the budget)."""
    out = []
    for seed in results["seeds"]:
        runs = [results["runs"].get(f"{arm}/{seed}") for arm in ("plain", "tinynas")]
        if any(r is None or "incumbents" not in r for r in runs):
            continue
        target = runs[0]["pick"]["confirmed"]
        times = [next((c["seconds"] for c in r["incumbents"] if c["confirmed"] >= target - 1e-9), None) for r in runs]
        out.append((seed, *times))
    return out


def figure(results: dict, path: Path) -> None:
    budget_s = results["minutes"] * 60
    fig = go.Figure()
    colours = {"plain": "#d62728", "tinynas": "#1f77b4"}
    dashes = ["solid", "dash", "dot", "dashdot"]
    for key, run in sorted(results["runs"].items()):
        seed = int(key.split("/")[1])
        curve = best_so_far(within(run["points"], budget_s))
        if not curve:
            continue
        xs = [t / 60 for t, _ in curve] + [results["minutes"]]
        ys = [b for _, b in curve] + [curve[-1][1]]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                line_shape="hv",
                name=f"{run['arm']}, search seed {seed} (pick confirmed {run['pick']['confirmed']:.2f})",
                line={"color": colours[run["arm"]], "dash": dashes[seed % len(dashes)]},
            )
        )
    for seed in results["seeds"]:
        plain = results["runs"].get(f"plain/{seed}")
        if plain is not None:
            fig.add_hline(
                y=plain["pick"]["confirmed"],
                line={"color": "grey", "width": 1, "dash": dashes[seed % 4]},
                annotation_text=f"target, seed {seed}",
                annotation_position="bottom right",
            )
    finals = [c[-1][1] for run in results["runs"].values() if (c := best_so_far(within(run["points"], budget_s)))]
    fig.update_layout(
        title=f"Best-so-far validation accuracy as searched, against wall time<br><sup>{results['problem']}; "
        f"{results['minutes']:g} min per arm and search seed; {results['machine']}</sup>",
        xaxis_title="minutes",
        yaxis_title="best validation accuracy so far (%)",
        width=1100,
        height=600,
        yaxis={"range": [min(finals, default=96.0) - 1.0, max(finals, default=98.5) + 0.3]},
        xaxis={"range": [0, results["minutes"]]},
        legend={"font": {"size": 11}},
    )
    path.write_text(fig.to_html(include_plotlyjs=True, full_html=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--minutes", type=float, default=10.0, help="wall-clock budget per arm and search seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="search seeds")
    parser.add_argument("--out", type=Path, default=Path("search-race.json"))
    parser.add_argument("--figure", type=Path, default=None, help="a PNG of the Plotly figure (its HTML beside it)")
    parser.add_argument("--table", action="store_true", help="only print the table of --out")
    parser.add_argument(
        "--incumbents",
        action="store_true",
        help="also re-measure every incumbent with the fresh seeds (time to target as confirmed)",
    )
    args = parser.parse_args()
    quiet_libraries()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("runs", {})
    results |= {
        "minutes": args.minutes,
        "seeds": args.seeds,
        "machine": results.get("machine") or f"{cpu_name()}, {args.threads} thread(s)",
        "problem": f"{REDUCED['run']['subset']:,} training images, {REDUCED['run']['val_size']:,} validation, "
        f"{EPOCHS} epochs, <= {REDUCED['budget']['max_params']:,} params",
    }
    set_threads(args.threads)
    budget_s = args.minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds if not args.table else []:
            spec = spec_for(seed)
            for arm in ("plain", "tinynas"):
                key = f"{arm}/{seed}"
                if key in results["runs"]:
                    continue
                print(f"{key}: searching for {args.minutes:g} min ...", flush=True)
                if arm == "plain":
                    points, ends = plain_arm(spec, budget_s, args.data_dir)
                else:
                    points, ends = tinynas_arm(spec, budget_s, args.data_dir, args.threads, Path(tmp))
                pick = confirm_pick(spec, within(points, budget_s), args.data_dir)
                results["runs"][key] = {"arm": arm, "points": points, "ends": ends, "pick": pick}
                args.out.write_text(json.dumps(results, indent=1))
                print(
                    f"{key}: pick {pick['params']:,} params, searched {pick['searched']:.2f}, "
                    f"confirmed {pick['confirmed']:.2f}",
                    flush=True,
                )
    if args.incumbents and not args.table:
        for key, run in sorted(results["runs"].items()):
            if "incumbents" not in run:
                spec = spec_for(int(key.split("/")[1]))
                run["incumbents"] = [
                    confirm_point(spec, p, args.data_dir) for p in incumbents(within(run["points"], budget_s))
                ]
                args.out.write_text(json.dumps(results, indent=1))
    rows, speedups, lower_bound = summarise(results)
    print(f"\n{results['problem']}; {results['minutes']:g} min per arm and seed; {results['machine']}")
    print(
        f"{'arm':<8} {'seed':>4} {'trials':>6} {'params':>6} {'searched':>8} {'confirmed':>9} {'target':>7} "
        f"{'time to target':>15}"
    )
    for r in rows:
        t = "not reached" if r["time_to_target"] is None else f"{r['time_to_target'] / 60:.1f} min"
        print(
            f"{r['arm']:<8} {r['seed']:>4} {r['trials']:>6} {r['params']:>6,} {r['searched']:>8.2f} "
            f"{r['confirmed']:>9.2f} {r['target']:>7.2f} {t:>15}"
        )
    judged = confirmed_speedups(results)
    for seed, t_plain, t_ours in judged:
        show = ["not reached" if t is None else f"{t / 60:.1f} min" for t in (t_plain, t_ours)]
        print(
            f"seed {seed}, incumbents re-measured with fresh seeds: plain reaches the target at {show[0]}, "
            f"tinynas at {show[1]}"
        )
    if judged:
        ratios = [0.0 if ours is None else (plain or budget_s) / ours for _, plain, ours in judged]
        print(f"speedup judged on re-measured incumbents (median): {statistics.median(ratios):.2f}x")
    if args.figure:
        html = args.figure.with_suffix(".html")
        figure(results, html)
        try:
            screenshot(html, args.figure, width=1120, height=620)
        except Exception as exc:  # no Chromium here: the HTML is still written
            print(f"(no PNG: {exc})")
    if not speedups:
        print("time-to-target speedup: n/a (no search seed has both arms yet)")
        return
    per_seed = ", ".join(f"{s:.2f}x" for s in speedups)
    print(
        f"per search seed: {per_seed}"
        + (
            " (a plain curve never reached its own confirmed value: its time is "
            "the whole budget, so the speedup is a lower bound)"
            if lower_bound
            else ""
        )
    )
    print(f"time-to-target speedup: {statistics.median(speedups):.2f}x")


if __name__ == "__main__":
    main()
