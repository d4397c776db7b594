"""Study specs: a TOML file -> one validated, frozen StudySpec, refused early when wrong."""

from __future__ import annotations

import itertools
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic import model_validator as after

from models import MAX_SHARED_REPEATS, Analysis, ConvKind, Head, Order, explain
from search.errors import TinynasError, quote, read_user_text
from search.limits import (
    DEFAULT_TARGET,
    DEFAULT_VAL_SIZE,
    EPOCH_CEILING,
    FIRST_RUNG,
    INFEASIBLE_STREAK,
    MAX_CONFIRM,
    MAX_SEEDS,
    MAX_TIMEOUT_S,
    MAX_TRIALS,
    PARAM_CEILING,
    STUDY_NAME_PATTERN,
)
from search.training.recipe import Optimizer, Scheduler
from search.training.teachers import TEACHERS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


Finite = Annotated[float, Field(allow_inf_nan=False)]
"""TOML can write nan and inf; no setting of a study means either."""
StrictFinite = Annotated[StrictFloat, Field(allow_inf_nan=False)]


NO_TEACHER = "none"
"""The `teacher` choice that trains on the labels alone."""

FILL = "fill"
"""Under budget sizing, the trial parameter that is the share of the budget a draw fills (the
spec's `[space.model] fill` range): its cost grows about in proportion to it."""


def parse_duration(text: str) -> float:
    """Seconds from '90', '90s', '30m', '2h' or '1h30m'."""
    parts = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or parts is None:
        raise TinynasError(f"cannot read duration {quote(text)}; write e.g. 90s, 30m, 2h or 1h30m")
    h, m, s = (float(g) if g else 0.0 for g in parts.groups())
    total = 3600 * h + 60 * m + s
    if not 0 < total <= MAX_TIMEOUT_S:
        raise TinynasError(f"duration {quote(text)} must be positive and at most {MAX_TIMEOUT_S // 86400} days")
    return total


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IntRange(_Frozen):
    low: StrictInt
    high: StrictInt
    step: StrictInt = Field(default=1, ge=1)
    log: StrictBool = False

    @after(mode="after")
    def _ordered(self) -> IntRange:
        if self.low > self.high:
            raise ValueError(f"range is the wrong way round: low {self.low} > high {self.high}")
        if self.log and self.low < 1:
            raise ValueError("a log range needs low >= 1")
        return self


class FloatRange(_Frozen):
    low: Finite
    high: Finite
    log: StrictBool = False

    @after(mode="after")
    def _ordered(self) -> FloatRange:
        if self.low > self.high:
            raise ValueError(f"range is the wrong way round: low {self.low} > high {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


def _form(value: Any) -> str:
    """A TOML table is a range, an array is a list of choices, a scalar is fixed."""
    if isinstance(value, (dict, IntRange, FloatRange)):
        return "range"
    return "choices" if isinstance(value, list) else "fixed"


def _param(scalar: Any, range_type: Any = None) -> Any:
    forms = [Annotated[scalar, Tag("fixed")], Annotated[list[scalar], Field(min_length=1), Tag("choices")]]
    if range_type is not None:
        forms.append(Annotated[range_type, Tag("range")])
    return Annotated[Union[tuple(forms)], Discriminator(_form)]  # noqa: UP007


def _str_param(*values: str) -> Any:
    return _param(Literal[values])


def _choice_param(alias: Any) -> Any:
    """A spec value over the choices of a `Literal` alias the model or recipe owns."""
    return _str_param(*get_args(alias))


if TYPE_CHECKING:  # pydantic builds these types at run time; to a type checker each is a value of the spec
    IntParam = Any
    FloatParam = Any
    BoolParam = Any
    SharedParam = Any
    HeadParam = Any
    OrderParam = Any
    OptimizerParam = Any
    SchedulerParam = Any
    TeacherParam = Any
    KindParam = Any
else:
    IntParam = _param(StrictInt, IntRange)
    FloatParam = _param(StrictFinite | StrictInt, FloatRange)
    BoolParam = _param(StrictBool)
    SharedParam = _param(StrictInt)
    HeadParam = _choice_param(Head)
    OrderParam = _choice_param(Order)
    OptimizerParam = _choice_param(Optimizer)
    SchedulerParam = _choice_param(Scheduler)
    TeacherParam = _str_param(NO_TEACHER, *TEACHERS)
    KindParam = _choice_param(ConvKind)


class ModelSpace(_Frozen):
    """Conv stages separated by 2x2 max-pools, then late unpadded convs, then a head."""

    stages: IntParam = IntRange(low=2, high=3)
    convs_per_stage: IntParam = IntRange(low=1, high=2)
    channels: IntParam = IntRange(low=4, high=16, step=2)
    transition: BoolParam = [False, True]
    transition_channels: IntParam = IntRange(low=4, high=12, step=2)
    shared: SharedParam = 0  # per stage, applications of a shared-weight 3x3 conv at its end; 0: none
    kind: KindParam = "full"  # per stage, its 3x3 convs: full, separable or grouped (models.family.ConvKind)
    tail_convs: IntParam = IntRange(low=0, high=2)
    head: HeadParam = list(get_args(Head))
    bias: BoolParam = [False, True]
    order: OrderParam = list(get_args(Order))
    dropout: FloatParam = FloatRange(low=0.0, high=0.15)
    # How width ranges are sampled. "budget": each conv draws a relative width in [0, 1] and
    # the study draws `fill`, the share of budget.max_params to spend; the channels are then
    # solved for, so a draw is over budget only when its narrowest corner is (96-98% of
    # "channels" draws of the sub5k and sub1k spaces were over budget: benchmarks/README.md,
    # "Draws under a budget"). "channels": each range is drawn as channels, as specs written
    # before budget sizing were.
    sizing: Literal["budget", "channels"] = "budget"
    # The share of budget.max_params a "budget" draw fills: the best models of every budget
    # measured so far sit near it, and a floor of 0.5 keeps the sampler off tiny models that
    # the budget would pay for twice over.
    fill: FloatParam = FloatRange(low=0.5, high=1.0)

    @field_validator("fill")
    @classmethod
    def _a_share(cls, value: Any) -> Any:
        ends = (
            [value.low, value.high] if isinstance(value, FloatRange) else value if isinstance(value, list) else [value]
        )
        if any(not 0 < v <= 1 for v in ends):
            raise ValueError("fill is a share of budget.max_params: keep it above 0 and at most 1")
        return value

    @field_validator("shared")
    @classmethod
    def _repeats(cls, value: int | list[int]) -> int | list[int]:
        for n in value if isinstance(value, list) else [value]:
            if n == 1 or not 0 <= n <= MAX_SHARED_REPEATS:
                raise ValueError(
                    f"{n} is not a number of shared applications: use 0 (none) or 2 to "
                    f"{MAX_SHARED_REPEATS} (one application is a plain conv: raise convs_per_stage)"
                )
        return value


class TrainSpace(_Frozen):
    optimizer: OptimizerParam = ["adam", "sgd"]
    lr: FloatParam = FloatRange(low=1e-3, high=5e-2, log=True)
    momentum: FloatParam = 0.9
    nesterov: BoolParam = False
    weight_decay: FloatParam = 0.0
    batch_size: IntParam = [32, 64, 128]
    scheduler: SchedulerParam = ["none", "onecycle", "cosine"]
    step_size: IntParam = 4
    gamma: FloatParam = 0.2
    pct_start: FloatParam = 0.25
    label_smoothing: FloatParam = 0.0
    augment: FloatParam = 0.0
    rotate: FloatParam = 0.0
    translate: FloatParam = 0.0
    scale: FloatParam = 0.0
    flip: BoolParam = False  # mirror half the images: for natural images, not digits
    ema: FloatParam = 0.0
    epochs: IntParam = 8
    teacher: TeacherParam = NO_TEACHER  # distil from a named teacher (search.training.teachers)
    distill_alpha: FloatParam = 0.5
    distill_temperature: FloatParam = 4.0


class Space(_Frozen):
    model: ModelSpace = ModelSpace()
    train: TrainSpace = TrainSpace()


class Budget(_Frozen):
    max_params: StrictInt = Field(ge=1, description=f"hard: < {PARAM_CEILING:,}")
    max_epochs: StrictInt = Field(ge=1, description=f"hard: < {EPOCH_CEILING}")
    # What a microcontroller bounds besides the parameters, each optional and as hard as
    # max_params (a draw over any is recorded infeasible, never trained); all analytic, from the
    # config (models.analysis): multiply-accumulates per image (latency and energy), the int8
    # weights with int32 biases (flash), the peak int8 activations run one layer at a time (RAM).
    max_macs: StrictInt | None = Field(default=None, ge=1)
    max_weight_bytes: StrictInt | None = Field(default=None, ge=1)
    max_activation_bytes: StrictInt | None = Field(default=None, ge=1)

    @field_validator("max_params", "max_epochs")
    @classmethod
    def _under_the_ceiling(cls, value: int, info: ValidationInfo) -> int:
        """A study may be tighter than the hard ceilings, never looser."""
        ceiling = PARAM_CEILING if info.field_name == "max_params" else EPOCH_CEILING
        if value >= ceiling:
            raise ValueError(f"{value:,} is not below {ceiling:,}, the hard ceiling: set at most {ceiling - 1:,}")
        return value

    def limits(self) -> dict[str, int]:
        """Each bound the study sets, by the `models.Analysis` figure it bounds."""
        return {
            figure: limit
            for figure, limit in (
                ("params", self.max_params),
                ("macs", self.max_macs),
                ("weight_bytes", self.max_weight_bytes),
                ("activation_bytes", self.max_activation_bytes),
            )
            if limit is not None
        }

    def excess(self, stats: Analysis, fill: float = 1.0) -> dict[str, int]:
        """How far each figure is over `fill` of its bound (<= 0: within), by figure."""
        return {figure: getattr(stats, figure) - share(fill, limit) for figure, limit in self.limits().items()}

    def fits(self, stats: Analysis, fill: float = 1.0) -> bool:
        return all(over <= 0 for over in self.excess(stats, fill).values())

    def usage(self, stats: Analysis) -> float:
        """The largest share of a bound the model uses (above 1: over that bound)."""
        return max(getattr(stats, figure) / limit for figure, limit in self.limits().items())

    def describe_over(self, stats: Analysis) -> str:
        """What a model over the budget breaks, in words: '5,210 params > 5,000'."""
        return ", ".join(
            f"{getattr(stats, figure):,} {figure.replace('_', ' ')} > {limit:,}"
            for figure, limit in self.limits().items()
            if getattr(stats, figure) > limit
        )


def share(fill: float, limit: int) -> int:
    """The part of a bound a draw may spend: `fill` of it, rounded down, at least 1."""
    return max(1, math.floor(fill * limit + 1e-9))


FrontRule = Literal["target", "dominance"]
"""How evolution picks a parent in a Pareto study (`[sampler] front`)."""


class SamplerSpec(_Frozen):
    kind: Literal["tpe", "random", "nsga2", "evolution"] = "tpe"
    # Random draws before the sampler's model (TPE) or tournaments (evolution) take over.
    startup_trials: int = Field(default=10, ge=0, le=MAX_TRIALS)
    # TPE: model the parameters jointly (they interact: widths share one budget).
    multivariate: bool = True
    # Evolution: the most recent trained trials that compete. Real et al. used 100 on NAS
    # benchmarks; a CPU trains about a dozen full-fidelity trials an hour, so a population that
    # turns over within a few hours is smaller.
    population: int = Field(default=16, ge=2, le=MAX_TRIALS)
    # Evolution: trials drawn per tournament; its winner is mutated. A quarter of the
    # population keeps selection pressure without always mutating the one best trial.
    tournament: int = Field(default=4, ge=2, le=MAX_TRIALS)
    # Evolution: the chance that a mutated number (a width, a recipe value) is drawn anew over
    # its whole range instead of moved a little. With small moves alone, 64 of a cold sub5k
    # study's 81 children kept one early trial's learning rate (a jump to the hand-found one
    # was 5 standard deviations of a move); 0.25 is Ray Tune's PBT `resample_probability`.
    resample: float = Field(default=0.25, ge=0.0, le=1.0)
    # Evolution in a Pareto study (accuracy against a cost): "target", each tournament draws a
    # target cost (log-uniform up to the budget) and the population's front member nearest to
    # it wins, so every stretch of the front gets children; "dominance", a pick no other in the
    # tournament dominates: the cheapest pick always is one, and a pick off the population's
    # front often wins (43% of the winners, replayed on front5k's populations: benchmarks/README.md).
    front: FrontRule = "target"
    # Evolution under front = "target" with budget sizing: a child's `fill` is set to the target
    # cost's share of the budget, beside its one or two mutations, so it is its layout at the
    # widest that costs no more than the target. Off, a child keeps its parent's fill (it mutates
    # 1-2 of some 30 parameters), so a layout stays at its cost and a gap in the front fills only
    # by chance; on, layouts move along the front (benchmarks/README.md, "Aiming children at
    # their target cost").
    aim: bool = False
    # Evolution under aim: the costs the front is read at (e.g. 1000, 2000, ... for the best
    # model under each budget). Each target cost is drawn just under one of them (from 85% of
    # it) instead of anywhere along the front: a front read at five budgets is otherwise aimed
    # mostly between them. And the study's whole front competes beside the population, so the
    # best trial under a budget stays a parent once aged out (front5k's population had lost its
    # best under 1K and 2K). Empty by default: the whole front is the answer.
    targets: tuple[Annotated[int, Field(ge=1)], ...] = ()
    # Evolution: the share of children that are new layouts, drawn at random (aimed as any
    # child) under their parent's recipe, instead of their parent mutated. Off by default, as
    # Real et al.'s aging evolution: a child of one or two mutations keeps its parent's
    # family, and a study's families are its few random draws (229 trials into front5k, its 20
    # best under 2,000 parameters all end their first stage in a shared conv, 18 have two
    # unpadded tail convs, 17 share one learning rate). A random draw with its own recipe
    # seldom climbs a rung beside tuned ones; under its parent's recipe a new layout is
    # screened on its layout.
    new_layout: float = Field(default=0.0, ge=0.0, le=1.0)
    # Evolution under front = "target": a target's parent is any member of the front whose cost
    # is within this factor of the target, each as often, instead of only the nearest. 1 (the
    # nearest) by default, as the rule was measured (benchmarks/README.md). Above 1, the
    # families of neighbouring stretches of the front are narrowed or widened to the target:
    # 264 trials into front5k, every child aimed under 2,000 parameters had one family as its
    # parent (its seven from 1,462 to 1,878 were one), its best 98.78% since trial 97,
    # while another family held 99.00% at 2,454.
    parent_reach: float = Field(default=1.0, ge=1.0, le=10.0)

    @after(mode="after")
    def _tournament_fits(self) -> SamplerSpec:
        if self.tournament > self.population:
            raise ValueError(f"tournament {self.tournament} is larger than population {self.population}")
        return self


class Rung(_Frozen):
    """A cheaper run of a configuration that `promotion` screens it with: a share of the
    training images (the same stratified share for every trial) and a complete schedule of
    its own length, annealed to zero at its own end."""

    # A fifth: the share benchmarks/fidelity.py measures as "data subset".
    images: Finite = Field(default=0.2, gt=0, le=1, description="share of the training images")
    # None: the trial's own epochs (the full schedule on fewer images).
    epochs: int | None = Field(default=None, ge=1, description="epochs of the rung's own schedule")


DEFAULT_RUNGS = (Rung(),)

PrunerKind = Literal["none", "median", "sha", "hyperband", "promotion"]


class PrunerSpec(_Frozen):
    # hyperband: successive halving over epochs of the one full run, from half the schedule
    # on; promotion: successive halving over the `rungs`, cheaper runs of each configuration,
    # before the full run. Hyperband by default: it needs no rung sized to the schedule, and on
    # short schedules its rung ranks about as well as the full run. At 19 epochs it does not:
    # studies/sub5k.toml and front5k.toml set promotion over a 6-epoch schedule (fidelity.py).
    kind: PrunerKind = "hyperband"
    min_epochs: int | None = Field(
        default=None, ge=1, description="epochs every trial gets before it can be stopped; default: FIRST_RUNG"
    )
    reduction_factor: int = Field(default=3, ge=2, le=100)
    startup_trials: int = Field(default=5, ge=0, le=MAX_TRIALS, description="median: trials before pruning starts")
    # promotion: the cheaper runs, cheapest first; a trial goes on to the next rung (the last:
    # its full run) only while its score is in the best 1/reduction_factor of the scores its
    # peers reached there. One rung by default, a fifth of the images with the full schedule.
    rungs: tuple[Rung, ...] = Field(default=DEFAULT_RUNGS, min_length=1, max_length=4)
    # promotion in a Pareto study: a trial's peers on a rung are the trials costing from
    # peer_floor of its cost up to its own. 0 (every cheaper trial) lets nearly all climb, as
    # bigger models score higher: replayed on front5k's 38 rung results before trial 52, 16%
    # stopped at 0 and 42% at 0.5, each keeping the same best score under 1K-5K parameters
    # (benchmarks/pareto_screening.py). 0 by default: the rule Pareto studies were run with.
    peer_floor: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="Pareto promotion: peers cost at least this share of the trial's cost"
    )

    @property
    def ladder(self) -> tuple[Rung, ...]:
        """The rungs a trial climbs before its full run: promotion's; none for the others."""
        return self.rungs if self.kind == "promotion" else ()

    @after(mode="after")
    def _rungs_climb(self) -> PrunerSpec:
        if self.kind != "promotion" and self.rungs != DEFAULT_RUNGS:  # the default round-trips a stored spec
            raise ValueError(
                f'pruner.rungs are climbed by kind = "promotion" only, not "{self.kind}": drop them or set that kind'
            )
        reach = [(r.images, r.epochs or math.inf) for r in self.ladder]
        for (images, epochs), (more_images, more_epochs) in itertools.pairwise(reach):
            if more_images < images or more_epochs < epochs or (more_images, more_epochs) == (images, epochs):
                raise ValueError(
                    "pruner.rungs must climb: each rung more images or more epochs than the one before, never fewer"
                )
        if reach and reach[-1] == (1, math.inf):
            raise ValueError(
                "pruner.rungs: a rung of all the images and all the epochs is the full run itself; give it fewer"
            )
        return self

    def first_epoch(self, max_epochs: int) -> int:
        """The first epoch at which a trial may be stopped: min_epochs, else FIRST_RUNG of the
        schedule (rounded up)."""
        return self.min_epochs or max(1, math.ceil(FIRST_RUNG * max_epochs))


class ConfirmSpec(_Frozen):
    """The search's own last step: its top trials retrained with fresh seeds on the validation
    split, so the study's answer (what `export` picks) is a confirmed one, not its luckiest draw."""

    top: int = Field(default=0, ge=0, le=MAX_CONFIRM, description="trials to confirm, best first; 0: none")
    seeds: int = Field(default=3, ge=1, le=MAX_SEEDS, description="fresh seeds per confirmed trial")


VAL_COUNT = (100, 30_000)
"""A validation split given as a count: at least enough images to rank trials, at most half of MNIST's."""


class RunSpec(_Frozen):
    trials: int = Field(
        default=50, ge=1, le=MAX_TRIALS, description="the study is done when it holds this many finished trials"
    )
    timeout: str | None = None
    # Validation images carved from the training images: a count, or a share of them for a
    # small dataset of the user's (10,000 is a sixth of MNIST's training images).
    val_size: StrictInt | StrictFloat = Field(
        default=DEFAULT_VAL_SIZE, description="a count of at most half the training images, or a share (0, 0.5]"
    )
    seeds_per_trial: int = Field(
        default=1, ge=1, le=MAX_SEEDS, description="replicas trained fused; the score is their mean"
    )
    subset: int | None = Field(default=None, ge=100)
    heartbeat_seconds: int = Field(default=30, ge=1, le=3600)
    infeasible_streak: int = Field(
        default=INFEASIBLE_STREAK, ge=1, le=1_000_000, description="stop after this many untrainable draws in a row"
    )
    confirm: ConfirmSpec = ConfirmSpec()

    @field_validator("val_size")
    @classmethod
    def _a_count_or_a_share(cls, value: int | float) -> int | float:
        if isinstance(value, int) and not VAL_COUNT[0] <= value <= VAL_COUNT[1]:
            raise ValueError(
                f"a count of validation images is {VAL_COUNT[0]:,} to {VAL_COUNT[1]:,}, got {value:,}; "
                "or give a share of the training images such as 0.2"
            )
        if isinstance(value, float) and not 0 < value <= 0.5:
            raise ValueError(f"a share of the training images is above 0 and at most 0.5, got {value}")
        return value

    @field_validator("confirm", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        """`confirm = false` is the default: no confirmation."""
        if value is False:
            return {"top": 0}
        if value is True:
            raise ValueError("say how many trials and seeds: confirm = {top = 3, seeds = 3}")
        return value

    @field_validator("timeout")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_duration(value)
            except TinynasError as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def timeout_s(self) -> float | None:
        return parse_duration(self.timeout) if self.timeout else None


class StudySpec(_Frozen):
    name: str = Field(pattern=STUDY_NAME_PATTERN)
    dataset: str = "mnist"
    # None: images as stored, so a registered dataset means what it always meant. [height, width]
    # resizes every image as it is read (bilinear, antialiased): photos of any size for a tiny
    # model; the export carries it, so retrain and deploy read the data the same way.
    resize: tuple[StrictInt, StrictInt] | None = None
    # Maximise validation accuracy alone, or trade it off against a cost the budget knows (a
    # Pareto front): parameters, or what a device pays (MACs, weight bytes, peak activation bytes).
    objectives: Literal[
        "accuracy", "accuracy+params", "accuracy+macs", "accuracy+weight_bytes", "accuracy+activation_bytes"
    ] = "accuracy"
    seed: int = Field(default=0, ge=0)
    target: Finite = Field(default=DEFAULT_TARGET, ge=0, le=100, description="export's default target (%)")
    budget: Budget
    space: Space = Space()
    sampler: SamplerSpec = SamplerSpec()
    pruner: PrunerSpec = PrunerSpec()
    run: RunSpec = RunSpec()
    start: list[dict[str, StrictBool | StrictInt | Finite | str]] = Field(
        default=[], description="configurations tried first (Optuna's enqueue_trial), by the search's parameter names"
    )

    @after(mode="after")
    def _fits_the_budget(self) -> StudySpec:
        epochs = self.space.train.epochs
        top = epochs.high if isinstance(epochs, IntRange) else max(epochs) if isinstance(epochs, list) else epochs
        if top > self.budget.max_epochs:
            raise ValueError(
                f"space.train.epochs reaches {top} but budget.max_epochs is {self.budget.max_epochs}: "
                f"lower the epochs range or raise the budget (it stays below {EPOCH_CEILING})"
            )
        if self.pruner.min_epochs and self.pruner.min_epochs > self.budget.max_epochs:
            raise ValueError("pruner.min_epochs exceeds budget.max_epochs")
        for rung in self.pruner.ladder:
            if rung.epochs is not None and rung.epochs > self.budget.max_epochs:
                raise ValueError(
                    f"pruner.rungs: a rung of {rung.epochs} epochs is over budget.max_epochs "
                    f"({self.budget.max_epochs}); give it fewer"
                )
        return self

    @after(mode="after")
    def _aim_is_for_pareto_targets_under_budget_sizing(self) -> StudySpec:
        s = self.sampler
        if s.aim and (
            s.kind != "evolution" or s.front != "target" or self.cost is None or self.space.model.sizing != "budget"
        ):
            raise ValueError(
                "sampler.aim sets evolution's children's fill to their target cost in a Pareto study: it needs "
                'objectives = "accuracy+...", kind = "evolution", front = "target" and [space.model] sizing = '
                '"budget"; drop it or use them'
            )
        if s.targets and not s.aim:
            raise ValueError("sampler.targets are costs evolution aims its children at: it needs sampler.aim = true")
        if s.targets and self.cost_limit is not None and max(s.targets) > self.cost_limit:
            raise ValueError(
                f"sampler.targets: {max(s.targets)} is over the budget's {self.cost_limit} {self.cost}; "
                "no trial may cost that much: give targets up to it"
            )
        return self

    @property
    def recipe_params(self) -> frozenset[str]:
        """The names of the recipe's parameters (`[space.train]`): what a new layout of
        evolution keeps of its parent."""
        return frozenset(name for name, _ in self.space.train)

    @property
    def aimed_by(self) -> str | None:
        """The parameter evolution aims its children's cost with (`sampler.aim`), or None."""
        return FILL if self.sampler.aim else None

    @after(mode="after")
    def _peer_floor_is_for_pareto_promotion(self) -> StudySpec:
        if self.pruner.peer_floor and (self.pruner.kind != "promotion" or self.cost is None):
            raise ValueError(
                'pruner.peer_floor compares the trials of a Pareto study (objectives = "accuracy+...") under '
                'kind = "promotion": drop it or use both'
            )
        return self

    @property
    def cost(self) -> str | None:
        """The `models.Analysis` figure a Pareto study minimises beside accuracy (None: accuracy only)."""
        return self.objectives.split("+")[1] if "+" in self.objectives else None

    @property
    def cost_limit(self) -> int | None:
        """The budget on the cost a Pareto study minimises (None: accuracy only, or no bound)."""
        return self.budget.limits().get(self.cost) if self.cost else None

    @property
    def multi_objective(self) -> bool:
        return self.cost is not None


def load_spec(path: Path) -> StudySpec:
    """Parse and validate; every failure is one TinynasError naming the file and the key."""
    text = read_user_text(path, "study spec")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TinynasError(f"{path} is not valid TOML: {exc}") from None
    try:
        return StudySpec.model_validate(data)
    except ValidationError as exc:
        raise TinynasError(f"{path}: {explain(exc, 'study spec')}") from None
