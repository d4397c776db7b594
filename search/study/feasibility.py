"""Whether a space can be searched, found out analytically before any training or storage:
its smallest model within the budget, enough random draws trainable, its teachers built for the
data, its starts points of the space."""

from __future__ import annotations

from pydantic import ValidationError

from models import analyse, explain
from search.data import dataset_info
from search.errors import TinynasError
from search.study.space import possible_teachers, probe, smallest_model, start_problems
from search.study.spec import StudySpec
from search.training.teachers import teacher_spec

NARROW = (
    "narrow space.model (the high ends of channels, convs_per_stage, stages, transition_channels, "
    "tail_convs) or raise the budget"
)
PROBE_DRAWS = 1000
"""Random draws that check_space tries (analytically, in well under a second)."""


def trainable_fraction(spec: StudySpec, draws: int = PROBE_DRAWS) -> tuple[float, str]:
    """The share of random draws from the space that give a model within budget, and why
    the last one that did not failed."""
    ok, why, budget = 0, "", spec.budget
    for stats in probe(spec.space.model, dataset_info(spec.dataset, spec.resize), budget, draws, spec.seed):
        if isinstance(stats, str):
            why = stats
        elif budget.fits(stats):
            ok += 1
        else:
            why = f"over budget: {budget.describe_over(stats)}"
    return ok / draws, why


def check_space(spec: StudySpec) -> None:
    """Refuse, before any training or storage, a space whose smallest model is over budget or
    in which no random draw gives a trainable model (a search would only record failures)."""
    info = dataset_info(spec.dataset, spec.resize)
    usage, model = smallest_model(spec.space.model, info, spec.budget)
    if model is None:
        raise TinynasError(
            "the space holds no valid model: every architecture shrinks the map below 1x1; "
            "use fewer stages or tail_convs"
        )
    if usage > 1:
        raise TinynasError(
            f"the smallest model of this space is over budget ({spec.budget.describe_over(analyse(model))}): "
            "lower the channel / stage / conv ranges or raise the budget"
        )
    for name in possible_teachers(spec.space.train):
        teacher, _ = teacher_spec(name)
        if (teacher.input_shape, teacher.num_classes) != (info.shape, info.classes):
            raise TinynasError(
                f"teacher {name!r} is built for {'x'.join(map(str, teacher.input_shape))} images and "
                f"{teacher.num_classes} classes, dataset {spec.dataset!r} has {'x'.join(map(str, info.shape))} "
                f'and {info.classes}: set [space.train] teacher = "none"'
            )
    fraction, why = trainable_fraction(spec)
    if fraction == 0:
        raise TinynasError(
            f"none of {PROBE_DRAWS:,} random draws from this space gives a trainable model (e.g. {why}): {NARROW}"
        )
    for i, values in enumerate(spec.start):
        try:
            problems = start_problems(spec.space.model, spec.space.train, info, values, spec.budget)
        except ValueError as exc:
            why = explain(exc, "model") if isinstance(exc, ValidationError) else str(exc)
            problems = [f"it does not describe a model ({why})"]
        if problems:
            raise TinynasError(
                f"start[{i}]: {'; '.join(problems)}: use the names and ranges of the space "
                "(`tinynas trials` shows a study's parameter names)"
            )
