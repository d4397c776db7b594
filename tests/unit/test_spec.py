"""Study specs are refused early, with a message that names the key and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from search.errors import TinynasError
from search.limits import EPOCH_CEILING, PARAM_CEILING
from search.study import check_space, load_spec, parse_duration
from tests.helpers import REPO

GOOD = """
name = "t"
[budget]
max_params = 5000
max_epochs = 10
"""


AIMED = re.sub(  # a Pareto study whose evolution aims its children, at every budget it is read at
    r"(?m)^targets = .*$", "targets = [1000, 2000, 3000, 4000, 5000]", (REPO / "studies" / "front5k.toml").read_text()
)

SHIPPED = sorted((REPO / "studies").glob("*.toml")) + sorted((REPO / "benchmarks" / "specs").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_specs_load(path: Path, monkeypatch) -> None:
    from functools import partial

    from search.study import feasibility

    # a tenth of check_space's random draws: enough to find a space with no trainable model
    monkeypatch.setattr(feasibility, "trainable_fraction", partial(feasibility.trainable_fraction, draws=100))
    spec = load_spec(path)
    assert path.parent.name != "studies" or spec.name == path.stem  # `tinynas search studies/X.toml` -> study X
    assert spec.budget.max_params < PARAM_CEILING and spec.budget.max_epochs < EPOCH_CEILING
    check_space(spec)  # every [[start]] configuration names only its space's parameters, within range


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 't'\n[budget\n", "is not valid TOML"),
        (GOOD + "colour = 'red'\n", "colour: unknown key"),
        (GOOD + "[space.model]\nchanels = 8\n", "space.model.chanels: unknown key"),
        (GOOD.replace("5000", "'many'"), "budget.max_params: Input should be a valid integer"),
        (GOOD.replace("5000", "20000"), "not below 20,000, the hard ceiling"),
        (GOOD.replace("max_epochs = 10", "max_epochs = 20"), "not below 20, the hard ceiling"),
        (GOOD + "[space.model]\nchannels = {low = 16, high = 4}\n", "wrong way round: low 16 > high 4"),
        (GOOD + "[space.model]\nhead = []\n", "space.model.head.choices: List should have at least 1 item"),
        (GOOD + "[space.model]\nhead = ['gap', 'mlp']\n", "space.model.head.choices.1"),
        (GOOD + "[space.train]\nepochs = {low = 5, high = 12}\n", "epochs reaches 12 but budget.max_epochs is 10"),
        (GOOD + "[space.train]\nlr = {low = 0.0, high = 0.1, log = true}\n", "a log range needs low > 0"),
        (GOOD + "[sampler]\nkind = 'grid'\n", "sampler.kind"),
        (GOOD + "[sampler]\nresample = 1.5\n", "sampler.resample: Input should be less than or equal to 1"),
        (GOOD + '[sampler]\nfront = "crowding"\n', "sampler.front: Input should be 'target' or 'dominance'"),
        (GOOD + '[sampler]\nkind = "evolution"\naim = true\n', "sampler.aim sets evolution's children's fill"),
        (GOOD + "[sampler]\ntargets = [1000]\n", "sampler.targets are costs evolution aims its children at"),
        (AIMED.replace("targets = [1000, 2000,", "targets = [1000, 6000,"), "6000 is over the budget's 5000 params"),
        (GOOD + "[space.model]\nshared = [0, 1]\n", "1 is not a number of shared applications: use 0 (none) or 2"),
        (GOOD + "[space.model]\nshared = 9\n", "9 is not a number of shared applications"),
        (GOOD + "[space.train]\nteacher = ['none', 'nobody']\n", "Input should be 'none', 'seed-8k' or 'teacher-17k'"),
        (GOOD + "[space.model]\nkind = 'depthwise'\n", "Input should be 'full', 'separable' or 'grouped'"),
        ("[budget]\nmax_params = 5000\nmax_epochs = 10\n", "name: Field required"),
        ("name = 'a b'\n[budget]\nmax_params = 1\nmax_epochs = 1\n", "name: String should match pattern"),
    ],
)
def test_bad_specs_are_refused_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(TinynasError) as info:
        load_spec(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_durations() -> None:
    assert parse_duration("90") == 90 and parse_duration("30m") == 1800 and parse_duration("1h30m") == 5400
    with pytest.raises(TinynasError, match="cannot read duration"):
        parse_duration("soon")


def test_pruning_starts_at_half_the_schedule_unless_the_spec_says() -> None:
    from search.study.spec import PrunerSpec

    assert [PrunerSpec().first_epoch(e) for e in (1, 4, 5, 15, 19)] == [1, 2, 3, 8, 10]
    assert PrunerSpec(min_epochs=3).first_epoch(15) == 3


def test_distillation_settings_are_drawn_only_with_a_teacher() -> None:
    from search.study.space import sample_train
    from search.study.spec import TrainSpace

    space = TrainSpace(teacher=["none", "seed-8k"], distill_alpha={"low": 0.2, "high": 0.9}, distill_temperature=3.0)
    drawn = [(sample_train(s := _Recording(seed), space, seed=0), s.names) for seed in range(12)]
    assert {cfg.distill is None for cfg, _ in drawn} == {True, False}
    for cfg, names in drawn:
        if cfg.distill is None:
            assert "distill_alpha" not in names
        else:
            assert cfg.distill.teacher == "seed-8k" and 0.2 <= cfg.distill.alpha <= 0.9
            assert cfg.distill.temperature == 3.0 and "distill_alpha" in names


class _Recording:
    """RandomSuggest that notes the names it is asked for."""

    def __init__(self, seed: int) -> None:
        from search.study.space import RandomSuggest

        self.inner, self.names = RandomSuggest(seed), set()

    def int(self, name, *args):
        self.names.add(name)
        return self.inner.int(name, *args)

    def float(self, name, *args):
        self.names.add(name)
        return self.inner.float(name, *args)

    def choice(self, name, choices):
        self.names.add(name)
        return self.inner.choice(name, choices)


def test_confirm_false_turns_the_confirmation_off_and_true_asks_how_much() -> None:
    from pydantic import ValidationError

    from tests.helpers import make_spec

    assert make_spec(**{"run.confirm": False}).run.confirm.top == 0
    with pytest.raises(ValidationError, match="say how many"):
        make_spec(**{"run.confirm": True})


def test_the_train_space_names_every_searchable_setting_of_the_recipe_and_nothing_else() -> None:
    """TrainSpace mirrors TrainConfig field by field (distillation's under the space's names);
    a setting added to one and not the other fails here, not silently in a search."""
    from search.study.space import DISTILL
    from search.study.spec import TrainSpace
    from search.training import TrainConfig
    from search.training.recipe import Distill

    not_searched = {"seed", "layout", "distill"}  # a trial's seed and layout are the run's; distill is below
    recipe = (set(TrainConfig.model_fields) - not_searched) | {f"distill.{n}" for n in Distill.model_fields}
    space = {f"distill.{DISTILL[n]}" if n in DISTILL else n for n in TrainSpace.model_fields}
    assert space == recipe


def test_the_spec_offers_exactly_the_choices_the_model_and_recipe_take() -> None:
    from typing import get_args

    from models import ConvKind, Head, Order
    from search.study.spec import ModelSpace, TrainSpace
    from search.training.recipe import Optimizer, Scheduler

    for space, name, alias in [(ModelSpace, "head", Head), (ModelSpace, "order", Order), (ModelSpace, "kind", ConvKind),
                               (TrainSpace, "optimizer", Optimizer), (TrainSpace, "scheduler", Scheduler)]:  # fmt: skip
        for choice in get_args(alias):
            assert getattr(space.model_validate({name: [choice]}), name) == [choice]
        with pytest.raises(ValueError):
            space.model_validate({name: ["no-such-choice"]})
