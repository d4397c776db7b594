"""Ablations on validation of the levers that buy accuracy per parameter: distillation from a
teacher, and separable or grouped convolutions, each against the model it changes.

Every variant trains 3 seeds (fused) for 19 epochs on the sub5k study's training split
(50,000 images) and is judged by its final-epoch accuracy on that study's 10,000-image
validation split (mean +- std over the seeds). The test set is never read.

- distill: sub5k trial 83, seed-8k and sub1k-t1 (776 parameters), each with its own recipe,
  then distilled from each teacher (`search.training.teachers`, alpha 0.5, T 4). Each
  teacher is trained once on the same 50,000 images (cached) and its final validation
  accuracy recorded. Wall time per variant is recorded: the teacher's forward pass on every
  augmented batch is the cost.
- convs: trial 83 with the convs of its second and third stages separable or grouped, at
  its own widths (fewer parameters) and widened back to about its 4,822 parameters.

Results go to --out as they come (JSON); a rerun skips the variants already there:

    python benchmarks/levers.py distill --threads 2 --out studies/results/distill.json
    python benchmarks/levers.py convs --threads 2 --out studies/results/conv-kinds.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from ablation import SEEDS, seeds_row

from models import ModelConfig, analyse, arch_string, cnn
from search.data import data_root, dataset_info, search_splits
from search.training import TrainConfig, load_experiment
from search.training.device import cpu_name
from search.training.recipe import Distill
from search.training.teachers import TEACHERS, teacher_for

ROOT = Path(__file__).resolve().parents[1]
TRIAL_83 = ROOT / "studies" / "results" / "sub5k-v5" / "best.json"
SPLIT_SEED = 5  # the sub5k study's: its trials were selected on this validation split
VAL_SIZE = 10_000

Variant = tuple[ModelConfig, TrainConfig]


def _trial_83_like(stages: list[list[int]], kinds: list[str]) -> ModelConfig:
    """Trial 83's family arguments with other widths or conv kinds (the same model at its own)."""
    return cnn(stages=stages, kinds=kinds, head="conv1x1", order="bn-relu", dropout=0.005288142410881843)


def distill_variants(epochs: int) -> dict[str, dict[str, Variant]]:
    out: dict[str, dict[str, Variant]] = {}
    students = (
        ("sub5k trial 83", load_experiment(TRIAL_83)),
        ("seed-8k", load_experiment("seed-8k")),
        ("sub1k-t1", load_experiment("sub1k-t1")),
    )
    for model_name, exp in students:
        base = exp.train.model_copy(update={"epochs": epochs, "layout": "channels_last"})
        rows = {"own recipe": (exp.model, base)}
        for name in TEACHERS:
            rows[f"distilled from {name}"] = (exp.model, base.model_copy(update={"distill": Distill(teacher=name)}))
        out[model_name] = rows
    return out


def conv_variants(epochs: int) -> dict[str, dict[str, Variant]]:
    exp = load_experiment(TRIAL_83)
    recipe = exp.train.model_copy(update={"epochs": epochs, "layout": "channels_last"})
    own = [[4, 10], [4, 12, 6], [16, 8, 10]]
    if _trial_83_like(own, ["full"] * 3) != exp.model.model_copy(update={"name": ""}):
        raise SystemExit("trial 83's family arguments changed: update _trial_83_like")
    models = {
        "full (trial 83)": _trial_83_like(own, ["full"] * 3),
        "separable stages 2-3, own widths": _trial_83_like(own, ["full", "separable", "separable"]),
        "grouped stages 2-3, own widths": _trial_83_like(own, ["full", "grouped", "grouped"]),
        "separable stages 2-3, widened": _trial_83_like(
            [[4, 10], [12, 28, 16], [32, 24, 24]], ["full", "separable", "separable"]
        ),
        "grouped stages 2-3, widened": _trial_83_like(
            [[4, 10], [6, 18, 8], [22, 12, 14]], ["full", "grouped", "grouped"]
        ),
    }
    return {"sub5k trial 83": {name: (model, recipe) for name, model in models.items()}}


ABLATIONS = {"distill": distill_variants, "convs": conv_variants}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ablation", choices=list(ABLATIONS))
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", help="run only this model's rows (a key of the table)")
    parser.add_argument("--subset", type=int, help="training images (a quick check of the script)")
    parser.add_argument("--epochs", type=int, default=19, help="fewer: a quick check of the script")
    parser.add_argument("--table", action="store_true", help="only print the table of --out")
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.table:
        print_table(results)
        return
    torch.set_num_threads(args.threads)
    train, val = search_splits(dataset_info("mnist"), args.data_dir, VAL_SIZE, SPLIT_SEED, args.subset)
    results.setdefault(
        "machine", f"{cpu_name()} ({platform.machine()}), {args.threads} threads, torch {torch.__version__}"
    )
    table = ABLATIONS[args.ablation](args.epochs)
    for model_name, variants in table.items():
        if args.only and model_name != args.only:
            continue
        done = results.setdefault(model_name, {})
        for name, (model, cfg) in variants.items():
            if name in done:
                continue
            teacher = None
            if cfg.distill is not None:  # trained when first needed (then cached), and recorded
                start = time.perf_counter()
                teacher = teacher_for(cfg.distill, train, val)
                if teacher.name not in results.setdefault("teachers", {}):
                    seconds = time.perf_counter() - start
                    results["teachers"][teacher.name] = {**teacher.identity(), "seconds_incl_cache": seconds}
                    print(
                        f"teacher {teacher.name}: {teacher.params:,} params, validation {teacher.acc:.2f}%", flush=True
                    )
            stats = analyse(model)
            done[name] = {
                "epochs": args.epochs,
                "params": stats.params,
                "macs": stats.macs,
                "arch": arch_string(model),
                "model": model.to_dict(),
                **seeds_row(model, cfg, train, val, teacher),
            }
            args.out.write_text(json.dumps(results, indent=1))
            row = done[name]
            print(
                f"{model_name:<16} {name:<34} {row['mean']:.2f} ± {row['std']:.2f}  {row['seconds']:.0f}s", flush=True
            )
    print_table(results)


def print_table(results: dict) -> None:
    """Markdown rows: model, variant, params, mean +- std, per seed, change and cost against the
    model's first variant."""
    print(f"\nfinal-epoch validation accuracy (%), {len(SEEDS)} seeds fused ({results.get('machine')})")
    for name, t in results.get("teachers", {}).items():
        print(f"| teacher {name} | {t['params']:,} params | {t['acc']:.2f} |")
    for model_name, rows in results.items():
        if model_name in ("machine", "teachers"):
            continue
        base = next(iter(rows.values()))
        for name, row in rows.items():
            delta = f"{row['mean'] - base['mean']:+.2f}" if row is not base else ""
            params = f"{row['params']:,}" if "params" in row else ""
            print(
                f"| {model_name} | {name} | {params} | {row['mean']:.2f} ± {row['std']:.2f} | "
                f"{', '.join(f'{v:.2f}' for v in row['val_final'])} | {delta} | {row['seconds'] / base['seconds']:.2f}x |"
            )


if __name__ == "__main__":
    main()
