"""Migration 0009 on a database of its own, SQLite and PostgreSQL: the variants' whole grams
become milligrams (3 g -> 3000 mg, no weight stays none), a negative weight is refused by the new
CHECK, and going back gives whole grams again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from retour import migrate
from retour.kit.db import normalize_url

PG_URL = os.environ.get("RETOUR_TEST_DATABASE_URL")
REASON = "PostgreSQL leg skipped: set RETOUR_TEST_DATABASE_URL to run it"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(not PG_URL, reason=REASON))])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migration.db'}"
        return
    assert PG_URL
    url = make_url(normalize_url(PG_URL))
    name = f"{url.database}_migration_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def weights(engine: Engine, column: str) -> list[tuple[str, int | None]]:
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT sku, {column} FROM variant ORDER BY sku"))
        return [(row[0], row[1]) for row in rows]


_FILLERS: dict[type, object] = {int: 0, str: "x", bool: False, datetime: datetime(2026, 12, 1, 10), dict: {}, list: []}


def insert(engine: Engine, table: str, **given: object) -> int:
    """A row of ``table`` as the schema stands (reflected): ``given`` values, a filler for every
    other required column."""
    reflected = MetaData()
    reflected.reflect(engine, only=[table])
    columns = reflected.tables[table].columns
    values = dict(given)
    for column in columns:
        if column.name not in values and not column.nullable and not column.primary_key:
            try:
                kind = column.type.python_type
            except NotImplementedError:  # JSON
                kind = dict
            values[column.name] = _FILLERS.get(kind, "x")
    with engine.begin() as connection:
        return int(
            connection.execute(reflected.tables[table].insert().values(**values).returning(columns.id)).scalar_one()
        )


def test_whole_grams_become_milligrams_and_back(database: str) -> None:
    config = migrate.alembic_config(database)
    command.upgrade(config, "0008")
    engine = create_engine(normalize_url(database))
    try:
        merchant_id = insert(engine, "merchant", slug="m", name="M", settings={})
        product_id = insert(engine, "product", merchant_id=merchant_id, external_id="ring", title="Bague", tags=[])
        for sku, grams in (("A", 3), ("B", None), ("C", 250)):
            insert(
                engine,
                "variant",
                merchant_id=merchant_id,
                product_id=product_id,
                sku=sku,
                weight_grams=grams,
                attributes={},
            )
        engine.dispose()
        command.upgrade(config, "0009")
        assert weights(engine, "weight_mg") == [("A", 3000), ("B", None), ("C", 250000)]
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text("UPDATE variant SET weight_mg = -1 WHERE sku = 'A'"))
        assert weights(engine, "weight_mg") == [("A", 3000), ("B", None), ("C", 250000)]
        engine.dispose()
        command.downgrade(config, "0008")
        assert weights(engine, "weight_grams") == [("A", 3), ("B", None), ("C", 250)]
    finally:
        engine.dispose()
