"""``retour create-api-key``, ``retour create-user`` and ``retour worker --once`` through typer's
CliRunner, against the test database of each backend (the commands read ``RETOUR_DATABASE_URL``),
and what they made used for real: the key against the API, the login on the back-office."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from retour.kit import clock
from retour.kit.db import unit_of_work
from retour.merchant import service as merchant_service
from retour.models import ApiKey, AuditEvent, OutboxMessage, StaffUser
from retour.outbox import service as outbox
from tests import factories

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "lune-et-soleil-2026"


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A runner whose commands use this test's database (SQLite or PostgreSQL)."""
    from retour.settings import get_settings

    monkeypatch.setenv("RETOUR_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def slug(factory: sessionmaker[Session]) -> str:
    with unit_of_work(factory) as session:
        return factories.merchant(session, slug="maison-lune", name="Maison Lune").slug


def _run(cli: CliRunner, *arguments: str) -> Result:
    from retour.cli import app

    return cli.invoke(app, list(arguments))


def _count(factory: sessionmaker[Session], model: type[ApiKey] | type[StaffUser]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# ---- create-api-key ------------------------------------------------------------------------------


def test_create_api_key_prints_a_read_key_last_that_reads_the_api_and_writes_nothing(
    cli: CliRunner, slug: str, client: TestClient, factory: sessionmaker[Session]
) -> None:
    result = _run(cli, "create-api-key", "--shop", slug, "--scope", "read", "--name", "dashboard")

    assert result.exit_code == 0, result.output
    *before, token = result.output.strip().splitlines()
    assert re.fullmatch(r"rtr_[A-Za-z0-9_-]+", token)
    assert "key 'dashboard' for maison-lune, scopes read:" in " ".join(before)
    headers = {"Authorization": f"Bearer {token}"}
    reasons = client.get("/api/v1/reasons", headers=headers)
    assert reasons.status_code == 200, reasons.text
    assert len(reasons.json()) > 0
    refused = client.post("/api/v1/orders", headers=headers, json=factories.order_payload())
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"
    with factory() as session:
        key = session.scalars(select(ApiKey)).one()
        assert (key.name, key.scopes) == ("dashboard", ["read"])
        assert token not in (key.prefix, key.secret_hash)  # only a digest of the secret is kept


def test_create_api_key_without_scope_gives_read_and_write(
    cli: CliRunner, slug: str, client: TestClient, factory: sessionmaker[Session]
) -> None:
    result = _run(cli, "create-api-key", "--shop", slug)

    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    created = client.post(
        "/api/v1/orders", headers={"Authorization": f"Bearer {token}"}, json=factories.order_payload()
    )
    assert created.status_code == 201, created.text
    with factory() as session:
        assert session.scalars(select(ApiKey.scopes)).one() == ["read", "write"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--shop", "maison-lune", "--scope", "admin"), "error (scopes): scopes must be among read, write, refund"),
        (("--shop", "nowhere", "--scope", "read"), "error: no such shop"),
    ],
)
def test_create_api_key_refusals_create_no_key(
    cli: CliRunner, slug: str, factory: sessionmaker[Session], arguments: tuple[str, ...], message: str
) -> None:
    result = _run(cli, "create-api-key", *arguments)

    assert result.exit_code == 1
    assert message in result.output
    assert "rtr_" not in result.output
    assert _count(factory, ApiKey) == 0


# ---- create-user ---------------------------------------------------------------------------------


def test_create_user_makes_a_login_that_works(
    cli: CliRunner, slug: str, client: TestClient, factory: sessionmaker[Session]
) -> None:
    result = _run(
        cli, "create-user", "--shop", slug, "--email", "Lea@Maison-Lune.fr", "--role", "agent", "--name", "Léa",
        "--password", PASSWORD,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "user lea@maison-lune.fr (agent) created in maison-lune" in result.output
    with factory() as session:
        user = session.scalars(select(StaffUser)).one()
        assert (user.email, user.role, user.name) == ("lea@maison-lune.fr", "agent", "Léa")
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        login = merchant_service.authenticate_staff(session, email="lea@maison-lune.fr", password=PASSWORD)
        assert (login.user.id, login.merchant.slug) == (user.id, "maison-lune")
    token = CSRF.search(client.get("/backoffice/login").text)
    assert token is not None
    form = {"email": "lea@maison-lune.fr", "password": PASSWORD, "csrf_token": token.group(1)}
    wrong = client.post("/backoffice/login", data={**form, "password": PASSWORD + "!"}, follow_redirects=False)
    assert wrong.status_code == 401
    signed_in = client.post("/backoffice/login", data=form, follow_redirects=False)
    assert signed_in.status_code == 303
    assert client.get("/backoffice/returns", follow_redirects=False).status_code == 200


def test_create_user_asks_for_the_password_twice(cli: CliRunner, slug: str, factory: sessionmaker[Session]) -> None:
    from retour.cli import app

    result = cli.invoke(
        app, ["create-user", "--shop", slug, "--email", "stock@maison-lune.fr", "--role", "warehouse"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    with factory() as session:
        login = merchant_service.authenticate_staff(session, email="stock@maison-lune.fr", password=PASSWORD)
        assert login.user.role == "warehouse"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--role", "boss"), "error (role): role must be one of admin, agent, warehouse"),
        (("--role", "agent", "--password", "short"), "error (password): the password must have at least 10 characters"),
        (("--role", "agent", "--email", "not-an-email"), "error (email): not an email address"),
    ],
)  # fmt: skip
def test_create_user_refusals_say_why_and_create_nobody(
    cli: CliRunner, slug: str, factory: sessionmaker[Session], arguments: tuple[str, ...], message: str
) -> None:
    defaults = {"--email": "lea@maison-lune.fr", "--password": PASSWORD}
    given = dict(zip(arguments[::2], arguments[1::2], strict=True))
    options = [item for pair in {**defaults, **given}.items() for item in pair]

    result = _run(cli, "create-user", "--shop", slug, *options)

    assert result.exit_code == 1
    assert message in result.output
    assert _count(factory, StaffUser) == 0


# ---- worker --once -------------------------------------------------------------------------------


def _broken(_session: Session, _message: outbox.Message) -> None:
    raise outbox.RetryableError("carrier down")


def test_worker_once_runs_every_due_message_and_leaves_the_rest(
    cli: CliRunner, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "_HANDLERS", dict(outbox._HANDLERS))
    outbox.handler("test.deliver")(factories.record_delivery)
    outbox.handler("test.broken")(_broken)
    now = datetime.now(UTC)
    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
        due = [
            outbox.enqueue(session, merchant_id=merchant_id, topic="test.deliver", payload={"n": n}) for n in range(3)
        ]
        broken = outbox.enqueue(session, merchant_id=merchant_id, topic="test.broken", payload={})
        later = outbox.enqueue(session, merchant_id=merchant_id, topic="test.deliver", payload={"n": 9})
        later.available_at = now + timedelta(hours=1)
        session.flush()
        ids = [message.id for message in due]
        broken_id, later_id = broken.id, later.id

    result = _run(cli, "worker", "--once")

    assert result.exit_code == 0, result.output
    assert "0 label(s) expired, 0 parcel(s) tracked" in result.output
    assert "4 message(s) processed" in result.output
    with factory() as session:
        rows = {row.id: row for row in session.scalars(select(OutboxMessage))}
        assert [(rows[i].status, rows[i].attempts) for i in ids] == [("done", 1)] * 3
        assert (rows[broken_id].status, rows[broken_id].attempts) == ("pending", 1)
        assert "carrier down" in (rows[broken_id].last_error or "")
        assert clock.as_utc(rows[broken_id].available_at) > now
        assert (rows[later_id].status, rows[later_id].attempts) == ("pending", 0)
        delivered = select(AuditEvent.subject_id).where(AuditEvent.action == "test.delivered")
        assert sorted(session.scalars(delivered)) == ids

    again = _run(cli, "worker", "--once")

    assert again.exit_code == 0 and "0 message(s) processed" in again.output
