"""Study storage: any SQLAlchemy URL Optuna accepts, opened with clear errors."""

from __future__ import annotations

import contextlib
import os
import random
import re
import sqlite3
import time
from pathlib import Path

import optuna
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, ProgrammingError, SQLAlchemyError

from search.errors import TinynasError
from search.limits import STORAGE_ENV, STUDY_NAME_PATTERN, default_storage_url
from search.study.record import StudyKey
from search.study.retries import Requeue

SQLITE_LOCK_TIMEOUT_S = 60
SCHEMA_RACE_RETRIES = 5


def resolve_url(option: str | None, study: str | None) -> str:
    """The one rule for which storage a command uses: --storage, else $TINYNAS_STORAGE (keeps a
    password out of shell history), else the study's own studies/<name>.db."""
    url = option or os.environ.get(STORAGE_ENV)
    if url:
        return url
    if study is None:
        raise TinynasError(f"name a STUDY, or pass --storage (or set ${STORAGE_ENV})")
    return default_storage_url(check_study_name(study))


def check_study_name(name: str) -> str:
    """A study name is also a file name (studies/<name>.db, <name>-report.html): never a path."""
    if not re.fullmatch(STUDY_NAME_PATTERN, name):
        raise TinynasError(
            f"{name[:100]!r} is not a study name: use letters, digits, '_', '.' and '-' "
            "(at most 100, starting with a letter or digit), no '/'"
        )
    return name


def is_tinynas_study(user_attrs: dict) -> bool:
    """A study a tinynas search made records its spec; a plain Optuna study does not."""
    return StudyKey.SPEC in user_attrs


def redact(url: str) -> str:
    """The URL as it may be shown: any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _sqlite_path(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise TinynasError(
            f"{redact(url)!r} is not a storage URL; use e.g. sqlite:///studies/x.db or "
            "postgresql+psycopg://user@host/db"
        ) from None
    if parsed.get_backend_name() != "sqlite":
        return None
    return Path(parsed.database) if parsed.database not in (None, "", ":memory:") else None


def _in_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and (
        parsed.database in (None, "", ":memory:") or parsed.query.get("mode") == "memory"
    )


def _check_optuna_file(path: Path) -> None:
    """A reading command opens only a database that holds Optuna's tables: opening any other
    file with Optuna would create them in it."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            tables = {name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.DatabaseError:
        tables = set()
    if "studies" not in tables or "trials" not in tables:
        raise TinynasError(
            f"{path} holds no study (it is empty or not a study database); pass the --storage a search wrote"
        )


def _check_sqlite(path: Path, create: bool) -> None:
    if not path.exists():
        if not create:
            raise TinynasError(f"no study database at {path}; run `tinynas search` first or pass --storage")
        if not path.parent.is_dir():
            raise TinynasError(f"cannot create {path}: folder {path.parent} does not exist")
        if not _writable(path):
            raise TinynasError(f"cannot create {path}: folder {path.parent} is read-only; choose another --storage")
    elif create and not _writable(path):
        raise TinynasError(f"{path} (or its folder) is read-only; a search must write to it: choose another --storage")


def open_storage(url: str, *, create: bool, heartbeat_s: int | None = None) -> optuna.storages.RDBStorage:
    """create=False (reading commands) never makes a database that was not there.

    With heartbeat_s, a trial whose worker stopped beating for 2 intervals is marked
    FAILED and queued again (`Requeue`) by the next worker.
    """
    path = _sqlite_path(url)
    if _in_memory(url):
        raise TinynasError(
            f"storage {redact(url)!r} is an in-memory database: nothing in it outlives the command, so no "
            "study could be resumed or read; name a file (e.g. sqlite:///studies/NAME.db; an unset variable "
            "in the URL leaves the path empty)"
        )
    if path is not None:
        _check_sqlite(path, create)
        if not create:
            _check_optuna_file(path)
    waits = path is not None and "timeout" not in make_url(url).query  # ?timeout=N in the URL wins
    engine_kwargs = {"connect_args": {"timeout": SQLITE_LOCK_TIMEOUT_S}} if waits else {}
    heartbeat = {}
    if heartbeat_s is not None:
        heartbeat = {
            "heartbeat_interval": heartbeat_s,
            "grace_period": 2 * heartbeat_s,
            "heartbeat_stale_trial_callback": Requeue(died=True),
        }
    try:
        storage = _rdb_storage(url, engine_kwargs, heartbeat)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        reason = getattr(exc, "orig", None) or exc
        raise TinynasError(
            f"cannot open storage {redact(url)}: {str(reason).strip().splitlines()[0]}; check the URL and that its "
            "database server is up, then run the same command again (the study, if any, is unchanged)"
        ) from None
    if path is not None and _writable(path):
        _one_writer_at_a_time(storage.engine)
    return storage


def _writable(path: Path) -> bool:
    """Whether this process may write the SQLite file (or create it): SQLite writes its journal
    beside the file, so the folder must be writable too."""
    return os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))


def _one_writer_at_a_time(engine: sa.Engine) -> None:
    """Every transaction on the SQLite file begins with `BEGIN IMMEDIATE`, so that what a
    transaction reads is still true when it writes.

    Python's sqlite3 driver begins a transaction only at the first write, so a read before it
    runs outside the transaction, and SQLite ignores the `SELECT ... FOR UPDATE` Optuna relies
    on elsewhere. Two processes then both read a queued (WAITING) trial, both mark it RUNNING,
    and both train it: the second to finish cannot record it ("Cannot tell a COMPLETE
    trial"). SQLAlchemy's recipe for pysqlite: the driver's own transaction handling off, and
    a BEGIN IMMEDIATE, which takes the file's write lock at once (waiting for it up to the
    lock timeout), at every transaction's start. Transactions are a few milliseconds, trials
    minutes: serialising them costs nothing a search notices. Read-only files (a reading
    command on a shared copy) keep the default: they cannot take the write lock, and do not
    race."""

    @sa.event.listens_for(engine, "connect")
    def _driver_autocommit(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened while Optuna made its tables predate these listeners


class _Storage(optuna.storages.RDBStorage):
    """Optuna's RDBStorage, with a heartbeat that outlives a database restart: a beat that
    fails (the server restarting, a dropped connection) is skipped, not raised, so Optuna's
    heartbeat thread keeps beating once the server is back instead of dying with a traceback.
    A server down for longer than the grace period makes the trial stale, as any silent worker."""

    def record_heartbeat(self, trial_id: int) -> None:
        with contextlib.suppress(SQLAlchemyError, optuna.exceptions.StorageInternalError):
            super().record_heartbeat(trial_id)


def _rdb_storage(url: str, engine_kwargs: dict, heartbeat: dict) -> optuna.storages.RDBStorage:
    """Workers that start together on a fresh database race to create Optuna's tables; the
    loser sees a duplicate-object error and simply finds the tables there on a retry."""
    for attempt in range(SCHEMA_RACE_RETRIES):
        try:
            # pool_pre_ping: a pooled connection that a server restart closed is replaced, not used
            return _Storage(url, engine_kwargs={"pool_pre_ping": True, **engine_kwargs}, **heartbeat)
        except (IntegrityError, ProgrammingError):
            if attempt == SCHEMA_RACE_RETRIES - 1:
                raise
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def load_study(name: str, storage: optuna.storages.BaseStorage) -> optuna.Study:
    check_study_name(name)
    names = optuna.get_all_study_names(storage)
    if name not in names:
        raise TinynasError(f"no study named {name!r} in this storage (studies there: {', '.join(names) or 'none'})")
    study = optuna.load_study(study_name=name, storage=storage)
    if not is_tinynas_study(study.user_attrs):
        raise TinynasError(
            f"study {name!r} was not made by `tinynas search` (it records no spec); tinynas reads "
            "only its own studies: open this one with Optuna or optuna-dashboard"
        )
    return study


def sqlite_integrity(path: Path) -> str:
    """SQLite's own integrity check: 'ok' for a consistent database."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())
