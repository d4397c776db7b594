"""Recipe ablation on validation: one change at a time from a model's own recipe.

For the sub5k trial-54 configuration and for seed-8k, each variant trains 3 seeds (fused)
for 15 epochs on the search's training split (50,000 images) and is judged by its
final-epoch accuracy on the 10,000-image validation split carved from the training
images (mean +- std over the seeds). The test set is not read, except with --test: then
the variant with the best validation mean of each model (and only that one) is retrained
on all 60,000 training images and its final-epoch test accuracy printed.

Results go to --out as they come (JSON); a rerun skips the variants already there. The
README's table came from the two models run side by side, one thread each:

    python benchmarks/recipes.py --only "sub5k trial 54" --threads 1 --out studies/results/recipes-trial54.json
    python benchmarks/recipes.py --only seed-8k --threads 1 --out studies/results/recipes-seed8k.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import torch
from ablation import SEEDS, seeds_row

from search.data import data_root, dataset_info, retrain_splits, search_splits
from search.training import Experiment, TrainConfig, load_experiment, train_replicas

TRIAL_54 = Path(__file__).resolve().parents[1] / "studies" / "results" / "sub5k-best.json"
EPOCHS = 15
SPLIT_SEED = 0


def variants(base: TrainConfig) -> dict[str, TrainConfig]:
    """The base recipe and one change at a time."""
    rotate, translate, _ = base.affine()
    affine = {"augment": 0.0, "rotate": rotate, "translate": translate}
    changes = {
        "own recipe": {},
        "+ EMA 0.999": {"ema": 0.999},
        "linear to zero (10% warm-up)": {"scheduler": "linear", "pct_start": 0.1},
        "one-cycle to zero (25% warm-up)": {"scheduler": "onecycle", "pct_start": 0.25},
        "+ scale augmentation 9%": {**affine, "scale": 0.09},
        "batch 32": {"batch_size": 32},
        "+ weight decay 5e-4 (weights only)": {"weight_decay": 5e-4},
    }
    base = base.model_copy(update={"epochs": EPOCHS})
    return {name: TrainConfig.model_validate(base.model_dump() | change) for name, change in changes.items()}


def models() -> dict[str, Experiment]:
    return {"sub5k trial 54": load_experiment(TRIAL_54), "seed-8k": load_experiment("seed-8k")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=data_root(None))
    parser.add_argument("--out", type=Path, default=Path("studies/results/recipes.json"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", help="run only this model (a key of the table)")
    parser.add_argument("--test", action="store_true", help="then test each model's best variant (60k train)")
    parser.add_argument("--table", nargs="+", type=Path, help="only print the table of these result files")
    args = parser.parse_args()
    if args.table:
        for path in args.table:
            print_table(json.loads(path.read_text()))
        return
    torch.set_num_threads(args.threads)
    info = dataset_info("mnist")
    train_split, val_split = search_splits(info, args.data_dir, 10_000, SPLIT_SEED)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results.setdefault("machine", f"{platform.processor() or 'CPU'}, {args.threads} threads, torch {torch.__version__}")
    for model_name, exp in models().items():
        if args.only and model_name != args.only:
            continue
        table = results.setdefault(model_name, {})
        for name, cfg in variants(exp.train).items():
            if name in table:
                continue
            table[name] = seeds_row(exp.model, cfg, train_split, val_split)
            args.out.write_text(json.dumps(results, indent=1))
            print(
                f"{model_name:<16} {name:<36} {table[name]['mean']:.2f} ± {table[name]['std']:.2f}  "
                f"({', '.join(f'{v:.2f}' for v in table[name]['val_final'])})  {table[name]['seconds']:.0f}s",
                flush=True,
            )
    print_table(results)
    if args.test:
        test_best(results, args)


def print_table(results: dict) -> None:
    """Markdown rows: model, variant, mean +- std, per seed, change from the model's own recipe."""
    print(f"\nfinal-epoch validation accuracy (%), {len(SEEDS)} seeds, {EPOCHS} epochs ({results['machine']})")
    for model_name in models():
        table = results.get(model_name, {})
        base = table.get("own recipe", {}).get("mean")
        for name, row in table.items():
            delta = f"{row['mean'] - base:+.2f}" if base is not None and name != "own recipe" else ""
            print(
                f"| {model_name} | {name} | {row['mean']:.2f} ± {row['std']:.2f} | "
                f"{', '.join(f'{v:.2f}' for v in row['val_final'])} | {delta} |"
            )


def test_best(results: dict, args: argparse.Namespace) -> None:
    """The one variant per model chosen on validation, and only it, meets the test set."""
    train_all, test = retrain_splits(dataset_info("mnist"), args.data_dir)
    for model_name, exp in models().items():
        table = results.get(model_name, {})
        if len(table) < len(variants(exp.train)):
            continue
        name = max(table, key=lambda n: table[n]["mean"])
        cfg = TrainConfig.model_validate(table[name]["recipe"])
        trained = train_replicas(exp.model, [cfg.model_copy(update={"seed": s}) for s in SEEDS], train_all, test)
        finals = [h.final_acc for h in trained.histories]
        results.setdefault("test", {})[model_name] = {
            "variant": name,
            "test_final": finals,
            "mean": statistics.fmean(finals),
        }
        args.out.write_text(json.dumps(results, indent=1))
        print(
            f"TEST {model_name}: chosen on validation: {name}; final-epoch test accuracy "
            f"{statistics.fmean(finals):.2f} ({', '.join(f'{v:.2f}' for v in finals)})"
        )


if __name__ == "__main__":
    main()
