"""`tinynas report`: one self-contained HTML file (Plotly's JS embedded) about one study."""

from __future__ import annotations

import html
import json
import warnings
from pathlib import Path

import optuna
import pandas as pd
import plotly.graph_objects as go
from optuna.trial import FrozenTrial
from plotly.offline import get_plotlyjs

from models import ARCH_NOTATION
from search.errors import check_replaceable, write_user_file
from search.outputs import retrain_records
from search.outputs.export import study_target
from search.study import Kind, StudyRecord, complete_records, pareto_front, trials_frame

STYLE = {
    Kind.COMPLETE.value: ("#1f77b4", "circle"),
    Kind.PRUNED.value: ("#ff7f0e", "diamond-open"),
    Kind.INFEASIBLE.value: ("#d62728", "x"),
}
TOP_N = 15


def _accuracy(t: FrozenTrial) -> float:
    return t.values[0]


def pareto_figure(frame: pd.DataFrame, budget: int | None, target: float) -> go.Figure:
    """Parameters vs validation accuracy; pruned trials at their last epoch, infeasible
    (never trained) ones on a strip below the axis minimum."""
    fig = go.Figure()
    trained = frame[frame["state"].isin(["COMPLETE", "PRUNED"])]
    floor = (trained["last_val_acc"].min() if not trained.empty else 90.0) - 0.5
    for state, (colour, symbol) in STYLE.items():
        part = frame[frame["state"] == state]
        if part.empty:
            continue
        y = (
            part["val_acc"]
            if state == "COMPLETE"
            else part["last_val_acc"]
            if state == "PRUNED"
            else [floor] * len(part)
        )
        name = {"PRUNED": "pruned (last epoch run)", "INFEASIBLE": "infeasible (not trained)"}.get(state, "complete")
        fig.add_scatter(
            x=part["params"],
            y=y,
            mode="markers",
            name=name,
            marker={"color": colour, "symbol": symbol},
            text=[f"trial {n}<br>{a}" for n, a in zip(part.index, part["arch"], strict=True)],
            hovertemplate="%{text}<br>%{x:,} params, %{y:.2f}%<extra></extra>",
        )
    front = pareto_front(frame)
    if not front.empty:  # a staircase to the budget: the best accuracy reached with at most x parameters
        end = max(budget or 0, int(front["params"].max()))
        fig.add_scatter(
            x=[*front["params"], end],
            y=[*front["val_acc"], front["val_acc"].iloc[-1]],
            mode="lines+markers",
            name="Pareto front",
            line={"shape": "hv", "color": "#2ca02c", "width": 2},
            # open stars around the complete trials' dots: both stay visible
            marker={"size": [16] * len(front) + [0], "symbol": "star-open", "line": {"width": 2}},
            hovertemplate="best with at most %{x:,} params: %{y:.2f}%<extra>Pareto front</extra>",
        )
    # the two labels sit in opposite corners of where the lines cross, so they never overlap
    fig.add_hline(
        y=target, line_dash="dash", annotation_text=f"target {target:.2f}%", annotation_position="bottom left"
    )
    if budget:
        fig.add_vline(
            x=budget, line_dash="dot", annotation_text=f"budget {budget:,} params", annotation_position="top left"
        )
    fig.update_layout(
        title="Parameters vs validation accuracy", xaxis_title="parameters", yaxis_title="validation accuracy (%)"
    )
    return fig


def curves_figure(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    points: list[float] = []
    shown: set[str] = set()
    for number, row in frame[frame["state"].isin(["COMPLETE", "PRUNED"])].iterrows():
        curve = json.loads(row["val_curve"])
        points += [p for p in curve if p == p]  # a rung's unevaluated epochs are NaN
        pruned = row["state"] == "PRUNED"
        group = "pruned" if pruned else "complete"
        fig.add_scatter(
            x=list(range(1, len(curve) + 1)),
            y=curve,
            mode="lines+markers" if pruned else "lines",
            name=group,  # one legend entry per state (clicking it hides them all), the trial on hover
            legendgroup=group,
            showlegend=group not in shown,
            opacity=0.7,
            line={"color": STYLE[row["state"]][0], "dash": "dot" if pruned else "solid"},
            hovertemplate=f"trial {number} ({group}, {row['arch']})<br>epoch %{{x}}: %{{y:.2f}}%<extra></extra>",
        )
        shown.add(group)
    fig.update_layout(
        title="Learning curves (pruned trials dotted, cut short)",
        xaxis_title="epoch",
        yaxis_title="validation accuracy (%)",
    )
    if points:  # every plotted point inside the axes, epoch-1 points included
        fig.update_yaxes(range=[min(points) - 0.5, min(100.0, max(points)) + 0.5])
    fig.update_xaxes(dtick=1)  # epochs are whole numbers
    return fig


def _metric_name(study: optuna.Study) -> str:
    """The first objective's name as the study states it (`Study.set_metric_names`)."""
    names = study.metric_names
    return f"{names[0]} (%)" if names else "validation accuracy (%)"


def optuna_figures(study: optuna.Study) -> tuple[list[tuple[str, go.Figure]], str]:
    """History, importances, parallel coordinates and slices; needs a few complete trials."""
    complete = complete_records(study)
    name = _metric_name(study)
    history = optuna.visualization.plot_optimization_history(study, target=_accuracy, target_name=name)
    history.update_xaxes(tick0=0, dtick=max(1, -(-len(study.trials) // 10)))  # trial numbers are whole
    figures = [("Optimisation history", history)]
    if len(complete) < 3:
        return figures, "Importances, parallel coordinates and slices need at least 3 complete trials."
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()  # no scikit-learn needed

    def low_is_good(t: FrozenTrial) -> float:
        return -_accuracy(t)

    with warnings.catch_warnings():  # PED-ANOVA warns about sparse regimes in small studies
        warnings.simplefilter("ignore")
        importances = optuna.importance.get_param_importances(study, evaluator=evaluator, target=low_is_good)
        importance_fig = optuna.visualization.plot_param_importances(
            study, evaluator=evaluator, target=low_is_good, target_name=name
        )
    top = [name for name, _ in list(importances.items())[:4]] or None
    figures += [
        ("Hyperparameter importances (PED-ANOVA)", importance_fig),
        ("Parallel coordinates", optuna.visualization.plot_parallel_coordinate(study, params=top, target=_accuracy,
                                                                               target_name=name)),
        ("Slices of the most important parameters", optuna.visualization.plot_slice(study, params=top,
                                                                                    target=_accuracy, target_name=name)),
    ]  # fmt: skip
    return figures, ""


def top_table(frame: pd.DataFrame) -> str:
    complete = frame[frame["state"] == "COMPLETE"].sort_values("val_acc", ascending=False).head(TOP_N)
    cols = [
        "val_acc",
        "params",
        "macs",
        "weight_bytes",
        "activation_bytes",
        "receptive_field",
        "epochs_run",
        "seconds",
        "arch",
        "train.optimizer",
        "train.lr",
        "train.batch_size",
        "train.scheduler",
        "train.augment",
    ]
    table = complete[[c for c in cols if c in complete]].to_html(float_format=lambda v: f"{v:.4g}", border=0)
    return f'<div style="overflow-x:auto">{table}</div><p class="note">{html.escape(ARCH_NOTATION)}</p>'


def confirmation_table(study: optuna.Study) -> str:
    """Searched vs confirmed validation accuracy of the trials `export --confirm` retrained:
    the winner's curse, measured."""
    confirmed = StudyRecord.of(study).confirmed
    if not confirmed:
        return "<p>No trial confirmed yet (<code>tinynas export --confirm N</code> retrains the top N with fresh seeds).</p>"
    rows = []
    for r in complete_records(study):
        if (c := confirmed.get(r.number)) is not None:
            rows.append(
                {
                    "trial": r.number,
                    "params": r.params,
                    "searched val_acc": r.value,
                    "confirmed mean": c.mean,
                    "difference": c.mean - r.score,
                    "confirmed per seed": ", ".join(f"{v:.2f}" for v in c.per_seed),
                    "seeds": ", ".join(map(str, c.seeds)),
                }
            )
    return pd.DataFrame(rows).to_html(index=False, float_format=lambda v: f"{v:.2f}", border=0)


def retrain_table(runs: list[dict]) -> str:
    if not runs:
        return "<p>No retrain results recorded for this study yet (<code>tinynas retrain</code> records them).</p>"
    frame = pd.DataFrame(runs)[["trial", "seed", "params", "epochs", "final_acc", "last3_min", "seconds", "device"]]
    return frame.to_html(index=False, float_format=lambda v: f"{v:.2f}", border=0)


def device_bounds(about: StudyRecord) -> str:
    """The device bounds the study's spec set, as words for the budget line ('' when none)."""
    recorded = (about.spec or {}).get("budget") or {}
    words = {"max_macs": "MACs", "max_weight_bytes": "weight bytes", "max_activation_bytes": "activation bytes at peak"}
    return "".join(f", at most {recorded[k]:,} {w}" for k, w in words.items() if recorded.get(k) is not None)


def _drawn(trace) -> None:
    """A line of one point draws nothing: give it a marker, so no legend entry is empty."""
    if trace.type == "scatter" and trace.mode == "lines" and trace.x is not None and len(trace.x) < 2:
        trace.mode = "lines+markers"


MAX_CLASSES_SHOWN = 20
"""Class names listed in the report's header; more are counted."""


def classes_line(about: StudyRecord) -> str:
    """The data's classes by name, where it names them (a folder's class folders, CIFAR-10's)."""
    if not about.classes:
        return ""
    shown = ", ".join(about.classes[:MAX_CLASSES_SHOWN])
    more = f" and {len(about.classes) - MAX_CLASSES_SHOWN} more" if len(about.classes) > MAX_CLASSES_SHOWN else ""
    return f"<br>Data: {html.escape(about.dataset or '?')}, {len(about.classes)} classes: {html.escape(shown)}{more}."


def render(study: optuna.Study, results_url: str, target: float | None = None) -> str:
    frame = trials_frame(study)
    about = StudyRecord.of(study)
    target = study_target(study) if target is None else target
    budget = about.max_params
    sections = []
    if frame.empty:
        sections.append(("Trials", "<p>This study has no trials yet.</p>"))
    else:
        figures = [("Pareto front", pareto_figure(frame, budget, target)), ("Learning curves", curves_figure(frame))]
        more, note = optuna_figures(study)
        for title, fig in figures + more:
            fig.for_each_trace(_drawn)
            sections.append((title, fig.to_html(full_html=False, include_plotlyjs=False)))
        if note:
            sections.append(("More figures", f"<p>{html.escape(note)}</p>"))
        sections.append((f"Top {TOP_N} complete trials", top_table(frame)))
        sections.append(("Confirmation: searched vs fresh seeds (validation)", confirmation_table(study)))
    sections.append(("Retrain results (test set)", retrain_table(retrain_records.load(results_url, study.study_name))))
    counts = frame["state"].value_counts().to_dict() if not frame.empty else {}
    summary = ", ".join(f"{n} {s.lower()}" for s, n in counts.items()) or "no trials"
    body = "\n".join(f"<section><h2>{html.escape(t)}</h2>{content}</section>" for t, content in sections)
    return f"""<!doctype html><html><head><meta charset="utf-8"><meta name="generator" content="tinynas"><title>tinynas: {html.escape(study.study_name)}</title>
<script>{get_plotlyjs()}</script>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}} table{{border-collapse:collapse;font-size:13px}}
td,th{{padding:3px 8px;text-align:right;border-bottom:1px solid #ddd;white-space:nowrap}} section{{margin-bottom:2em}}
.note{{font-size:13px;color:#555}}</style></head>
<body><h1>Study {html.escape(study.study_name)}</h1>
<p>{len(frame)} trials: {summary}. Budget: {budget or "?"} parameters, {about.max_epochs or "?"} epochs{device_bounds(about)}.
Objective: {html.escape(about.objective or "validation accuracy")}, on a validation split carved
from the training images; the test set is used only by retrain.{classes_line(about)}</p>
{body}</body></html>"""


def write_report(
    study: optuna.Study, results_url: str, out: Path, target: float | None = None, force: bool = False
) -> Path:
    check_replaceable(out, "a report", is_report, force)
    return write_user_file(out, render(study, results_url, target), "report")


def is_report(path: Path) -> bool:
    """Whether `path` is a report tinynas wrote (its head names tinynas as the generator)."""
    try:
        with open(path, "rb") as f:
            return b'<meta name="generator" content="tinynas">' in f.read(4096)
    except OSError:
        return False
