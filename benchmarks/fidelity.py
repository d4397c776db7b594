"""Which cheap signal predicts a configuration's confirmed score, and at what cost.

Configurations are drawn at random from a problem's space (within its budget); the truth is
each one's confirmed score, the mean over 3 fresh seeds (trained fused, as `export --confirm`
does) of each seed's score as the search scores it (mean validation accuracy of the last 2
epochs). Each cheap signal is then ranked against it. Two problems (--problem):

- race: the search race's (`search_race.REDUCED`: 10,000 training images, a 5,000-image
  validation split, 5 epochs). Signals: accuracy after epoch 1, 2, 3 of the full annealed
  run (what Hyperband's rungs see); the full run with 1 seed and with 2; a complete 2-epoch
  schedule annealed to zero; a third of the training images with the full schedule.
- sub5k: the fidelity the results table reports, `studies/sub5k.toml` as shipped (budget
  sizing, <= 5,000 parameters, 19 epochs, 50,000 training and 10,000 validation images).
  Signals: accuracy after epoch 10 (today's rung); the full run with 1 seed (a trial's
  score); a complete 6-epoch schedule annealed to zero; a fifth of the training images with
  the full schedule; a fifth with the 6-epoch schedule.

Per signal: Spearman's rank correlation with the truth (and a bootstrap 90% interval over
configurations), top-5 recall (how many of the truth's 5 best the signal's 5 best hold), and
its cost as a fraction of one full single-seed run (measured in the CPU seconds of the run's
one-thread process: other work on the machine, or a pause, does not count). Results are cached in --out
as each configuration finishes, and each run of an unfinished one beside it (--out's name
with .rowN); a rerun of the same command resumes, a truth cut short from its last finished
epoch (a run of hours, in the background with
the searches' snapshot habit: commit --out and its .rowN files now and then).

    python benchmarks/fidelity.py --data-dir data --configs 24 --workers 2 \\
        --out studies/results/fidelity.json
    python benchmarks/fidelity.py --problem sub5k --data-dir data --configs 20 --workers 2 \\
        --out studies/results/fidelity-sub5k.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from search_race import REDUCED, spec_for

from models import ModelConfig, count_params
from search.data import data_root, dataset_info, search_splits
from search.limits import CONFIRM_SEED_OFFSET
from search.study import StudySpec, load_spec, sample_model, sample_train, seed_score
from search.study.space import RandomSuggest
from search.training import TrainConfig, cpu_name, fastest_layout, train_replicas
from search.training.checkpoint import resumable

TRUTH_SEEDS = 3
TOP = 5
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Problem:
    """Where the signals are measured: a spec (space, budget, splits) and the cheap runs."""

    spec: StudySpec
    epochs: int
    rungs: tuple[int, ...]
    """Epochs of the full single-seed run whose accuracy is a signal (a pruner's rungs)."""
    short: int
    """Epochs of the short complete schedule (annealed to zero at its own end)."""
    fraction: int
    """The data-subset signal trains on 1/fraction of the training images."""
    second_seed: bool
    """Also a second search seed: the 'full, 2 seeds' signal."""
    short_subset: bool
    """Also the short schedule on the data subset."""
    draw_seed: int

    def signals(self) -> list[str]:
        names = [f"epoch {e}" for e in self.rungs] + ["full, 1 seed"]
        names += ["full, 2 seeds"] if self.second_seed else []
        names += ["short schedule", "data subset"] + (["subset, short"] if self.short_subset else [])
        return names


def problem(name: str) -> Problem:
    if name == "race":
        return Problem(spec_for(0), REDUCED["budget"]["max_epochs"], (1, 2, 3), 2, 3, True, False, 2)
    spec = load_spec(REPO / "studies" / "sub5k.toml")
    return Problem(spec, spec.budget.max_epochs, (10,), 6, 5, False, True, 3)


def draws(spec: StudySpec, n: int, seed: int) -> list[dict]:
    info, suggest, out = dataset_info(spec.dataset), RandomSuggest(seed), []
    while len(out) < n:
        try:
            model = sample_model(suggest, spec.space.model, info, spec.budget)
        except ValueError:
            continue
        if count_params(model) <= spec.budget.max_params:
            cfg = sample_train(suggest, spec.space.train, seed=spec.seed)
            out.append({"model": model.to_dict(), "train": cfg.model_dump(mode="json")})
    return out


_SPLITS: dict = {}
_PROBLEM: list[Problem] = []


def _load(root: Path, threads: int, name: str) -> None:
    torch.set_num_threads(threads)
    p = problem(name)
    info = dataset_info(p.spec.dataset)
    train, val = search_splits(info, root, p.spec.run.val_size, p.spec.seed, p.spec.run.subset)
    n = len(train) // p.fraction
    _SPLITS.update(train=train, val=val, subset=type(train)(train.x[:n], train.y[:n]))
    _PROBLEM[:] = [p]


def _run(
    model: ModelConfig, cfgs: list[TrainConfig], train_key: str = "train", resume: bool = False
) -> tuple[list[list[float]], float, int]:
    """Each seed's validation curve (seeds fused), the CPU seconds it took (one thread), and the
    epochs it took up from a run cut short (`resume`; their seconds are not counted)."""
    start = time.process_time()
    layout = fastest_layout("cpu", len(cfgs), 1)  # as a trial (or a confirmation) on one thread
    cfgs = [c.model_copy(update={"layout": layout}) for c in cfgs]
    with resumable() if resume else nullcontext() as states:
        trained = train_replicas(model, cfgs, _SPLITS[train_key], _SPLITS["val"], states=states)
    return [h.eval_acc for h in trained.histories], time.process_time() - start, trained.taken_up


def measure(job: tuple[dict, Path]) -> dict:
    """Every signal and the truth for one configuration, with what each run cost. Each run is
    kept in `part` as it ends (a configuration takes the better part of an hour), so a stopped
    benchmark measures again only the run it was in."""
    draw, part = job
    p = _PROBLEM[0]
    model, cfg = ModelConfig.from_dict(draw["model"]), TrainConfig.model_validate(draw["train"])
    short = cfg.model_copy(update={"epochs": p.short})
    plan = {"seed 0": ([cfg], "train"), "short": ([short], "train"), "subset": ([cfg], "subset")}
    if p.second_seed:
        plan["seed 1"] = ([cfg.model_copy(update={"seed": cfg.seed + 1})], "train")
    if p.short_subset:
        plan["subset short"] = ([short], "subset")
    plan["truth"] = (
        [cfg.model_copy(update={"seed": cfg.seed + CONFIRM_SEED_OFFSET + i}) for i in range(TRUTH_SEEDS)],
        "train",
    )
    kept = json.loads(part.read_text()) if part.exists() else {}
    done = kept.get("runs", {}) if kept.get("config") == json.loads(json.dumps(draw)) else {}
    for name, (cfgs, key) in plan.items():
        if name not in done:  # the truth (three seeds, 19 epochs) resumes from its last epoch when cut
            curves, seconds, taken_up = _run(model, cfgs, key, resume=name == "truth")
            done[name] = {"curves": curves, "seconds": seconds, "machine": cpu_name()}
            if taken_up:  # its seconds count only the epochs trained after
                done[name]["taken_up_epochs"] = taken_up
            _write(part, {"config": draw, "runs": done})
    out = {k: {"curve": v["curves"][0], "seconds": v["seconds"], "machine": v["machine"]}
           for k, v in done.items() if k != "truth"}  # fmt: skip
    t = done["truth"]
    out |= {
        f"truth {i}": {"curve": c, "seconds": t["seconds"] / TRUTH_SEEDS, "machine": t["machine"]}
        for i, c in enumerate(t["curves"])
    }
    return {"config": draw, "params": count_params(model), "runs": out}


def _write(path: Path, data: dict) -> None:
    """Replace a JSON file whole: a kill mid-write leaves the old one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(path)


def _score(curve: list[float]) -> float:
    from search.training import EpochResult, History

    return seed_score(History([EpochResult(i + 1, 0, 0, 0, acc, 0, 0) for i, acc in enumerate(curve)]))


def signals(row: dict, p: Problem) -> tuple[float, dict[str, tuple[float, float | None]]]:
    """(truth, {signal: (value, cost in full single-seed runs)}); a cost is None where its run
    and the full run it is measured against ran on different machines."""
    runs = row["runs"]
    full = runs["seed 0"]["seconds"]

    def cost(*names: str) -> float | None:
        same = all(runs[n]["machine"] == runs["seed 0"]["machine"] for n in names)
        return sum(runs[n]["seconds"] for n in names) / full if same else None

    truth = sum(_score(runs[f"truth {i}"]["curve"]) for i in range(TRUTH_SEEDS)) / TRUTH_SEEDS
    curve = runs["seed 0"]["curve"]
    out = {f"epoch {e}": (curve[e - 1], e / p.epochs) for e in p.rungs}
    out["full, 1 seed"] = (_score(curve), 1.0)
    if p.second_seed:
        two = (_score(curve) + _score(runs["seed 1"]["curve"])) / 2
        out["full, 2 seeds"] = (two, cost("seed 0", "seed 1"))
    out["short schedule"] = (_score(runs["short"]["curve"]), cost("short"))
    out["data subset"] = (_score(runs["subset"]["curve"]), cost("subset"))
    if p.short_subset:
        out["subset, short"] = (_score(runs["subset short"]["curve"]), cost("subset short"))
    return truth, out


def _part(out: Path, index: int) -> Path:
    """Where configuration `index`'s finished runs wait until its row is written to `out`."""
    return out.with_name(f"{out.stem}.row{index}.json")


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rho: Pearson's correlation of the ranks (ties share their mean rank)."""
    return float(pd.Series(a).rank().corr(pd.Series(b).rank()))


def table(rows: list[dict], p: Problem, boot: int = 1000) -> list[tuple[str, float, float, float, float, float]]:
    """Per signal: (name, Spearman, its 5th and 95th bootstrap percentiles, top-5 recall, cost)."""
    truths, sigs = zip(*(signals(r, p) for r in rows), strict=True)
    best = set(sorted(range(len(rows)), key=lambda i: -truths[i])[:TOP])
    rng = random.Random(0)
    out = []
    for name in p.signals():
        values = [s[name][0] for s in sigs]
        rho = spearman(values, truths)
        samples = []
        for _ in range(boot):
            idx = [rng.randrange(len(rows)) for _ in rows]
            samples.append(spearman([values[i] for i in idx], [truths[i] for i in idx]))
        samples = sorted(x for x in samples if x == x)  # a resample of ties only has no correlation
        lo, hi = samples[len(samples) // 20], samples[-len(samples) // 20 - 1]
        recall = len(best & set(sorted(range(len(rows)), key=lambda i: -values[i])[:TOP])) / TOP
        costs = [c for s in sigs if (c := s[name][1]) is not None]
        cost = sum(costs) / len(costs)
        out.append((name, rho, lo, hi, recall, cost))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=["race", "sub5k"], default="race")
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--configs", type=int, default=24)
    parser.add_argument("--workers", type=int, default=2, help="processes, one thread each")
    parser.add_argument("--out", type=Path, default=Path("fidelity.json"))
    args = parser.parse_args()
    p = problem(args.problem)
    results = json.loads(args.out.read_text()) if args.out.exists() else {"rows": []}
    results["problem"] = args.problem
    done = len(results["rows"])
    todo = [(d, _part(args.out, done + i)) for i, d in enumerate(draws(p.spec, args.configs, seed=p.draw_seed)[done:])]
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.workers, initializer=_load, initargs=(args.data_dir, 1, args.problem)) as pool:
        for row, (_, part) in zip(pool.imap(measure, todo), todo, strict=True):
            results["rows"].append(row)
            _write(args.out, results)
            part.unlink(missing_ok=True)
            print(f"{len(results['rows'])}/{args.configs}: {row['params']:,} params", flush=True)
    rows = results["rows"][: args.configs]
    machines = sorted({run["machine"] for row in rows for run in row["runs"].values()})
    print(f"\n{len(rows)} configurations of the {args.problem} space; truth: mean score of {TRUTH_SEEDS} fresh "
          f"seeds; {args.workers} worker(s) x 1 thread on {' and '.join(machines)}")  # fmt: skip
    print(f"{'signal':<16} {'Spearman':>8} {'90% interval':>14} {'top-5 recall':>12} {'cost':>6}")
    for name, rho, lo, hi, recall, cost in table(rows, p):
        print(f"{name:<16} {rho:>8.2f} {f'{lo:.2f} to {hi:.2f}':>14} {recall:>12.0%} {cost:>5.2f}x")


if __name__ == "__main__":
    main()
