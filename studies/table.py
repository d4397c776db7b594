"""The README's results table and the figure of the front, from retrain run folders (their
summary.json and experiment.json).

    python studies/table.py studies/results/retrains/*/
    python studies/table.py FOLDER... --figure /tmp/front.html --png studies/results/front.png [--cold FOLDER...]

(the figure takes one folder per point: the front's, as in studies/results/README.md; the
folders after --cold draw a second line, the models found from a cold start.)

One Markdown row per folder: model, parameters, MACs, epochs, seeds, what the search saw
(the trial's validation score, and its confirmed mean on fresh seeds when it was confirmed),
test accuracy at the final epoch per seed, mean +- sample std, the lowest test accuracy over
any seed's last 3 epochs, and the retrain's wall time. Nothing here chooses an epoch: every
number is the final epoch's or the last-3 minimum, as `tinynas retrain` recorded it. The
searched, confirmed and test columns side by side show the winner's curse: how much of a
trial's score was its luck.

The figure: parameters against mean final-epoch test accuracy (error bar: the seeds' std),
one point per model at its most epochs, with the hand-made reference and the public
single-run records (../shared/notes/field.md; best or final epoch of one run, as published)
as marked points.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HEADER = (
    "| model | params | MACs | epochs | seeds | searched val. | confirmed val. | test acc. final epoch, per seed "
    "| mean ± std | min of last 3 (worst seed) | retrain wall |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)

PUBLISHED = [  # (params, accuracy %, label): single runs as their authors reported them
    (8_070, 99.44, "hand-made reference (best epoch, 1 run)"),
    (6_260, 99.44, "TSAI-S6 (final epoch, 1 run)"),
    (6_174, 99.47, "firekind model_4 (final epoch, 1 run)"),
    (4_838, 99.41, "woolly-of-cv 4,838 (final epoch, 1 run)"),
    (3_762, 99.52, "woolly-of-cv 3,762 (final epoch, 1 run)"),
    (997, 99.06, "Parameter-Efficient-MNIST 997 (max of 223 runs; mean 98.76)"),
    (575, 98.0, "neural golfing 575 (1 run)"),
]


def _load(folder: Path) -> tuple[dict, dict]:
    return json.loads((folder / "summary.json").read_text()), json.loads((folder / "experiment.json").read_text())


def _pct(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "—"


def row(folder: Path) -> str:
    summary, exp = _load(folder)
    name = exp["model"].get("name") or folder.name
    provenance = exp.get("provenance", {})
    per_seed = ", ".join(f"{a:.2f}" for a in summary["final_acc"])
    wall = sum(summary["seconds"])  # fused seeds each record their share of the run's wall time
    return (
        f"| {name} (`{folder.name}`) | {summary['params']:,} | {summary['macs']:,} | {summary['epochs']} "
        f"| {', '.join(map(str, summary['seeds']))} | {_pct(provenance.get('val_acc'))} "
        f"| {_pct(provenance.get('confirmed_val_acc'))} | {per_seed} "
        f"| {summary['final_acc_mean']:.2f} ± {summary['final_acc_std']:.2f} | {min(summary['last3_min']):.2f} "
        f"| {wall / 60:.0f} min |"
    )


def _label_side(ys: list[float], i: int) -> str:
    """Below a point that sits under its neighbours' mean, above the others: labels keep off the line."""
    neighbours = ys[max(i - 1, 0) : i] + ys[i + 1 : i + 2]
    return "bottom center" if ys[i] < sum(neighbours) / len(neighbours) else "top center"


def _series(folders: list[Path], label: str, symbol: str):
    """One line of points: per model its run with the most epochs, by parameters."""
    import plotly.graph_objects as go

    longest: dict[str, tuple[dict, str]] = {}  # per model, its run with the most epochs
    for folder in folders:
        summary, exp = _load(folder)
        name = exp["model"].get("name") or folder.name
        if name not in longest or summary["epochs"] > longest[name][0]["epochs"]:
            longest[name] = (summary, folder.name)
    points = sorted(longest.items(), key=lambda item: item[1][0]["params"])
    runs = {(s["epochs"], len(s["seeds"])) for _, (s, _) in points}
    shared = ", {} epochs, {} seeds".format(*runs.pop()) if len(runs) == 1 else ""  # said once, in the legend
    ys = [s["final_acc_mean"] for _, (s, _) in points]
    return go.Scatter(
        x=[s["params"] for _, (s, _) in points],
        y=ys,
        error_y={"type": "data", "array": [s["final_acc_std"] for _, (s, _) in points]},
        text=[n if shared else f"{n} ({s['epochs']} epochs, {len(s['seeds'])} seeds)" for n, (s, _) in points],
        mode="markers+lines+text",
        marker={"symbol": symbol, "size": 8},
        textposition=[_label_side(ys, i) for i in range(len(ys))],
        name=f"{label}: mean final-epoch test accuracy over seeds{shared}",
    )


def front_figure(folders: list[Path], cold: list[Path] | None = None):
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(_series(folders, "tinynas, by hand or a search handed starts", "circle"))
    if cold:
        fig.add_trace(_series(cold, "tinynas, found from a cold start", "diamond"))
    fig.add_trace(
        go.Scatter(
            x=[p for p, _, _ in PUBLISHED],
            y=[a for _, a, _ in PUBLISHED],
            text=[label for _, _, label in PUBLISHED],
            mode="markers",
            marker={"symbol": "x", "size": 10},
            name="published single runs (as reported)",
        )
    )
    fig.update_layout(
        title="Parameters vs MNIST test accuracy (< 20 epochs)",
        xaxis_title="parameters",
        yaxis_title="test accuracy (%)",
        xaxis_type="log",
        xaxis_range=[2.6, 4.15],  # 400 to 14,000 parameters (log10): room for the labels at both ends
        legend={"orientation": "h", "y": -0.15},  # below the plot: the axes keep the figure's width
        width=1100,
        height=650,
    )
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="retrain folders, each holding summary.json")
    parser.add_argument("--figure", type=Path, help="also write the front as a self-contained HTML figure")
    parser.add_argument("--png", type=Path, help="and a PNG of it (drawn by Chromium, as the report's)")
    parser.add_argument(
        "--cold",
        nargs="+",
        type=Path,
        default=[],
        help="retrain folders of models found from a cold start: a second line",
    )
    args = parser.parse_args()
    if any(not (f / "summary.json").is_file() for f in [*args.folders, *args.cold]):
        raise SystemExit("each folder must hold a finished retrain's summary.json")
    print(HEADER)
    for folder in [*args.folders, *args.cold]:
        print(row(folder))
    if args.figure:
        front_figure(args.folders, args.cold).write_html(
            args.figure, include_plotlyjs=True, config={"displayModeBar": False}
        )
        if args.png:
            from search.outputs.browser import screenshot

            screenshot(args.figure, args.png, width=1150, height=700)


if __name__ == "__main__":
    main()
