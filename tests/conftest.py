"""Test harness: every database test runs on SQLite and, when RETOUR_TEST_DATABASE_URL is set, on
PostgreSQL too. The schema comes from the real migrations; tables are emptied after each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from retour import migrate
from retour.kit.db import begin_write, make_engine, make_session_factory, normalize_url
from retour.models import Base
from retour.settings import Settings

PG_URL = os.environ.get("RETOUR_TEST_DATABASE_URL")
_ENGINES: dict[str, Engine] = {}


@pytest.fixture(autouse=True)
def _own_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Code that falls back on the installation's settings (the worker's handlers) writes labels
    and photos under this test's folder, never under the checkout's ``var/storage``."""
    from retour.settings import get_settings

    monkeypatch.setenv("RETOUR_STORAGE_DIR", str(tmp_path / "default-storage"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_url() -> str:
    assert PG_URL
    url = make_url(normalize_url(PG_URL))
    name = f"{url.database}_{_worker_suffix()}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _engine(backend: str, tmp_root: Path) -> Engine:
    if backend not in _ENGINES:
        if backend == "postgres":
            url = _postgres_url()
        else:
            url = f"sqlite:///{tmp_root / f'retour-{_worker_suffix()}.db'}"
        migrate.upgrade(url)
        _ENGINES[backend] = make_engine(url, pool_size=20)
    return _ENGINES[backend]


def _backends() -> list[object]:
    reason = "PostgreSQL leg skipped: set RETOUR_TEST_DATABASE_URL to run it"
    return [
        "sqlite",
        pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason=reason)]),
    ]


@pytest.fixture(scope="session")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("db")


@pytest.fixture(params=_backends())
def engine(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[Engine]:
    engine = _engine(request.param, tmp_root)
    yield engine
    _empty(engine)


@pytest.fixture
def sqlite_engine(tmp_root: Path) -> Iterator[Engine]:
    engine = _engine("sqlite", tmp_root)
    yield engine
    _empty(engine)


def _empty(engine: Engine) -> None:
    tables = [table.name for table in Base.metadata.sorted_tables]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text("TRUNCATE " + ", ".join(f'"{name}"' for name in tables) + " RESTART IDENTITY CASCADE")
            )
        else:
            for name in reversed(tables):
                connection.execute(text(f'DELETE FROM "{name}"'))
            connection.execute(text("DELETE FROM sqlite_sequence")) if _has_sequence(connection) else None


def _has_sequence(connection: object) -> bool:
    return bool(connection.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first())  # type: ignore[attr-defined]


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A writer session for service tests; the test commits (or not) like a request would."""
    session = factory()
    begin_write(session)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url="sqlite://",
        storage_dir=tmp_path / "storage",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        in_process_worker=False,
    )


@pytest.fixture
def app(settings: Settings, engine: Engine):  # type: ignore[no-untyped-def]
    from retour.app import create_app

    return create_app(settings, engine=engine, start_worker=False)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def shop(factory: sessionmaker[Session]) -> dict[str, object]:
    """A committed shop with an all-scopes API key: ``{"id", "slug", "key", "headers"}``."""
    from retour.kit.db import unit_of_work
    from tests import factories

    with unit_of_work(factory) as session:
        merchant = factories.merchant(session)
        key = factories.api_key(session, merchant.id)
        return {
            "id": merchant.id,
            "slug": merchant.slug,
            "key": key,
            "headers": {"Authorization": f"Bearer {key}"},
        }
