"""Retrain results recorded in a SQL database (SQLAlchemy), so reports can put them beside the search."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from search.errors import TinynasError, check_writable, make_user_folder
from search.limits import DEFAULT_RESULTS_URL, STUDIES_DIR
from search.study import redact

metadata = sa.MetaData()
retrain_runs = sa.Table(
    "tinynas_retrain_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("config_hash", sa.String(32), nullable=False, index=True),
    sa.Column("study", sa.String(200), index=True),
    sa.Column("trial", sa.Integer),
    sa.Column("dataset", sa.String(500), nullable=False),  # a name, or the path of a .npz
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("params", sa.Integer, nullable=False),
    sa.Column("macs", sa.Integer, nullable=False),
    sa.Column("epochs", sa.Integer, nullable=False),
    sa.Column("final_acc", sa.Float, nullable=False),
    sa.Column("last3_min", sa.Float, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("device", sa.String(50), nullable=False),
    sa.Column("test_acc_per_epoch", sa.Text, nullable=False),
    sa.Column("config_json", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class RetrainRecord:
    config_hash: str
    study: str | None
    trial: int | None
    dataset: str
    seed: int
    params: int
    macs: int
    epochs: int
    final_acc: float
    last3_min: float
    seconds: float
    device: str
    test_acc_per_epoch: list[float]
    config_json: str


def _engine(url: str) -> sa.Engine:
    try:
        return sa.create_engine(url)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise TinynasError(f"cannot use results database {redact(url)!r}: {exc}") from None


def _sqlite_file(url: str) -> Path | None:
    """The file of a file-backed SQLite URL; None for a server or an in-memory database."""
    parsed = sa.engine.make_url(url) if "://" in url else None
    database = parsed.database if parsed is not None and parsed.get_backend_name() == "sqlite" else None
    return None if database in (None, "", ":memory:") else Path(str(database))


def check(url: str) -> None:
    """Refuse, before any training, a results database that cannot take a row: its table is
    made if absent, then a write that changes nothing (a delete of no row) is tried and rolled
    back, so a read-only file, folder or server account is found out now, not after the work.
    A SQLite file not there yet is not made by the check (a run refused later for another
    reason leaves none behind): its folder must take it."""
    if url == DEFAULT_RESULTS_URL and not Path(STUDIES_DIR).is_dir():  # made when the first run is recorded
        check_writable(Path(STUDIES_DIR), "results folder")
        return
    if (file := _sqlite_file(url)) is not None and not file.exists():
        check_writable(file, "results database")
        return
    try:
        engine = _engine(url)
        metadata.create_all(engine)
        with engine.connect() as conn, conn.begin() as transaction:
            conn.execute(retrain_runs.delete().where(sa.false()))
            transaction.rollback()
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise TinynasError(
            f"cannot record runs in {redact(url)} ({reason}); pass --results with a database you can write"
        ) from None


def save(url: str, record: RetrainRecord) -> int:
    row = record.__dict__ | {
        "created": datetime.now(timezone.utc),
        "test_acc_per_epoch": json.dumps(record.test_acc_per_epoch),
    }
    if url == DEFAULT_RESULTS_URL:  # tinynas's own default place: its folder is made, as runs/ is
        make_user_folder(Path(STUDIES_DIR), "results folder")
    try:
        engine = _engine(url)
        metadata.create_all(engine)
        with engine.begin() as conn:
            key = conn.execute(retrain_runs.insert().values(**row)).inserted_primary_key
            return int(key[0]) if key else 0
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise TinynasError(f"cannot record the run in {redact(url)}: {exc.__class__.__name__}: {reason}") from None


def load(url: str, study: str | None = None) -> list[dict]:
    """All recorded runs (of one study, if given), oldest first; none if the table (or the
    SQLite file) is absent. Reading never creates a database."""
    if (file := _sqlite_file(url)) is not None and not file.is_file():
        return []
    try:
        engine = _engine(url)
        if not sa.inspect(engine).has_table(retrain_runs.name):
            return []
        query = sa.select(retrain_runs).order_by(retrain_runs.c.id)
        if study is not None:
            query = query.where(retrain_runs.c.study == study)
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
    except SQLAlchemyError as exc:
        raise TinynasError(f"cannot read retrain results from {redact(url)}: {exc.__class__.__name__}") from None
