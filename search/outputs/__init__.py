"""The outputs layer: export, the Plotly report, optuna-dashboard, headless-browser checks,
retrain run folders and the retrain results database. Reads the study and training layers."""

from search.outputs.browser import screenshot
from search.outputs.export import experiment_for, pick, study_target
from search.outputs.report import render, write_report

__all__ = ["experiment_for", "pick", "render", "screenshot", "study_target", "write_report"]
