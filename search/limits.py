"""Every hard limit and default that more than one module relies on, written once.

Messages that state a limit format it from here; nothing else in the code base spells
these numbers out.
"""

from __future__ import annotations

PARAM_CEILING = 20_000
"""The hard ceiling: every trained model has fewer than this many parameters; a study may set a
tighter budget, never a looser one."""
MAX_PARAMS = PARAM_CEILING - 1

EPOCH_CEILING = 20
"""The hard ceiling: every model trains for fewer than this many epochs."""
MAX_EPOCHS = EPOCH_CEILING - 1

DEFAULT_TARGET = 99.4
"""Validation accuracy (%) `export --rule smallest` asks for: tinynas's test-set goal,
asked of validation too, since a model below it on validation rarely holds it on test."""

SCORE_EPOCHS = 2
"""A trial's score is its mean validation accuracy over this many last epochs: a model
that only spikes once scores lower than one that holds its accuracy."""

DEFAULT_VAL_SIZE = 10_000
"""Images of the stratified validation split carved from the training images: at 99.4% its
sampling error is about 0.08 points (5,000 images: 0.11), below the seed-to-seed spread."""

CONFIRM_SEED_OFFSET = 1_000
"""Confirmation retrains use seeds spec.seed + 1000 + i: fresh, never used by the search
(whose replicas use spec.seed + i for i below seeds_per_trial)."""

DATA_ENV = "TINYNAS_DATA"
DEFAULT_DATA_DIR = "data"
"""--data-dir, else $TINYNAS_DATA, else this folder (torchvision's layout under it)."""

CACHE_ENV = "TINYNAS_CACHE"
"""Where trained teachers are kept (else the user's cache folder, e.g. ~/.cache/tinynas)."""

STUDIES_DIR = "studies"
"""Where a study's default SQLite database and report go, relative to the working folder."""

DEFAULT_RESULTS_URL = f"sqlite:///{STUDIES_DIR}/retrains.db"
"""Where `retrain` records every run, so reports can put test results beside a search."""


def default_storage_url(study: str) -> str:
    """The study's own SQLite file: studies/<name>.db."""
    return f"sqlite:///{STUDIES_DIR}/{study}.db"


def params_ceiling_text() -> str:
    return f"fewer than {PARAM_CEILING:,} parameters"


def epochs_ceiling_text() -> str:
    return f"fewer than {EPOCH_CEILING} epochs"


STORAGE_ENV = "TINYNAS_STORAGE"
"""A storage URL from the environment: how to keep a database password out of shell history."""

INFEASIBLE_STREAK = 100
"""A search stops (exit 2) after this many consecutive draws with no trainable model: a
space that is nearly all over budget or impossible would otherwise loop for ever, since
infeasible draws cost milliseconds and do not count towards --trials."""

TRIAL_RETRIES = 3
"""A configuration whose worker died (killed, or silent past the heartbeat) is queued again
at most this many times; one cut short by a stop (a signal, the deadline) always."""

MAX_SEEDS = 16
"""Seeds one command trains for one configuration (a trial's seeds_per_trial, retrain --seeds,
export --confirm-seeds); fused, beyond this the net stops fitting the cache."""

MAX_TRIALS = 100_000
"""--trials and a spec's run.trials: more trials of even the smallest model than a CPU
trains in a year, so a larger number is a typo."""

MAX_JOBS_PER_CORE = 4
"""--jobs: worker processes per CPU core at most. Beyond one per core they only share the cores
(each takes cores / jobs threads, at least 1), so a larger number is a typo, not a plan."""

MAX_CONFIRM = 100
"""export --confirm: trials retrained on fresh seeds before the pick (each costs a full run)."""

MAX_TIMEOUT_S = 30 * 24 * 3600
"""--timeout and a spec's run.timeout: 30 days; anything longer is a typo, not a plan."""

STUDY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
"""A study's name becomes file names (studies/<name>.db, studies/<name>-report.html): letters,
digits, '_', '.', '-', no path separators, so it never names a file outside its folder."""

FIRST_RUNG = 0.5
"""The share of the epoch budget every trial trains before a pruner may stop it, unless the
spec sets pruner.min_epochs. Measured (benchmarks/fidelity.py): with a schedule annealed to
zero, the validation accuracy of its first epochs ranks configurations poorly (the learning
rate is still at its peak); on a short search (5 epochs of 10,000 images) half of the
schedule ranks them about as well as the full run. At 19 epochs of 50,000 images it does not
(epoch 10 ranks poorly; a complete 6-epoch schedule ranks well), so studies/sub5k.toml and
front5k.toml screen with `promotion` instead."""

MAX_USER_FILE_BYTES = 16 * 2**20
"""A spec or an experiment JSON read from outside: 16 MiB, thousands of times the largest real one
(a spec with a thousand `[[start]]` tables is under 1 MiB); larger is a mistake, refused before parsing."""

MAX_NESTING = 64
"""Brackets and braces nested in a spec or an experiment JSON: a real one nests 4 deep; the parsers
recurse per level, so depth is checked before parsing."""

QUOTE_CHARS = 80
"""An error line quotes at most this many characters of one value the user gave."""

MAX_ARRAY_FILE_BYTES = 4 * 2**30
"""A user's .npz dataset: read whole into memory, as the registered datasets are; 4 GiB holds
CIFAR-10 eight times over. Larger is refused before reading, with the fix (a subset)."""

MAX_CLASSES = 1000
"""Classes of a user's dataset: a tiny model's head has one output per class."""

MIN_IMAGE_SIDE = 4
"""The smallest image side tinynas searches on: a padded 3x3 conv and one 2x2 pool."""

MAX_RESIZE_SIDE = 256
"""The largest side a spec may resize images to: a model under the parameter ceiling has no
use for more, and every image is held in memory at that size."""
