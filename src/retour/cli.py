"""``retour``: serve, migrate, demo, import, create users and keys, run the worker."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.actor import Actor
from retour.kit.db import make_engine, make_session_factory, unit_of_work
from retour.kit.errors import RetourError
from retour.settings import Settings, get_settings

app = typer.Typer(help="Retour: returns management for online shops.", no_args_is_help=True, add_completion=False)
console = Console()


def _factory() -> sessionmaker[Session]:
    settings = get_settings()
    return make_session_factory(make_engine(settings.database_url))


def _fail(error: RetourError) -> None:
    where = f" ({error.field})" if error.field else ""
    console.print(f"[red]error[/red]{where}: {error.detail}")
    raise typer.Exit(1)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from retour import migrate as migrations

    settings = get_settings()
    migrations.upgrade(settings.database_url)
    console.print(f"database up to date ({_safe_url(settings.database_url)})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: RETOUR_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: RETOUR_PORT")] = None,
    workers: Annotated[int, typer.Option(help="web processes (use PostgreSQL when > 1)")] = 1,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="do not run the outbox worker in-process")] = False,
) -> None:
    """Serve the portal, the back-office and the API."""
    import os

    import uvicorn

    settings = get_settings()
    if no_worker:
        os.environ["RETOUR_IN_PROCESS_WORKER"] = "false"
    host, port = host or settings.host, port or settings.port
    base = f"http://{host}:{port}"
    console.print(f"Retour on [bold]{base}[/bold]  back-office {base}/backoffice  API {base}/docs")
    uvicorn.run(
        "retour.app:create_app", factory=True, host=host, port=port, workers=workers, **server_options(settings)
    )


def server_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the app: the client address is the one a trusted proxy forwarded
    (``RETOUR_FORWARDED_ALLOW_IPS``), else the connection's own."""
    return {
        "log_level": settings.log_level,
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
    }


@app.command()
def worker(once: Annotated[bool, typer.Option(help="run what is due, then exit")] = False) -> None:
    """Run the outbox worker (emails, webhooks, outside calls)."""
    from retour import tasks  # noqa: F401  (registers every outbox handler)
    from retour.outbox import service as outbox_service
    from retour.worker import Worker, run_periodic_jobs

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper())
    factory = _factory()
    if once:
        done = run_periodic_jobs(factory)
        console.print(f"{done['labels_expired']} label(s) expired, {done['parcels_polled']} parcel(s) tracked")
        console.print(
            f"{outbox_service.drain(factory, max_attempts=settings.worker_max_attempts)} message(s) processed"
        )
        return
    Worker(
        factory,
        poll_seconds=settings.worker_poll_seconds,
        max_attempts=settings.worker_max_attempts,
        periodic_seconds=settings.worker_periodic_seconds,
    ).run_forever()


@app.command("create-merchant")
def create_merchant(
    slug: str,
    name: str,
    currency: Annotated[str, typer.Option()] = "EUR",
    language: Annotated[str, typer.Option()] = "fr",
    logo_url: Annotated[str, typer.Option(help="https:// address or /path of the portal's logo")] = "",
    brand_color: Annotated[str, typer.Option(help="the portal's colour, #rrggbb")] = "#3b4a6b",
) -> None:
    """Create a shop with the default policy and reasons."""
    from retour.merchant import service

    try:
        with unit_of_work(_factory()) as session:
            merchant = service.create_merchant(
                session,
                slug=slug,
                name=name,
                currency=currency,
                language=language,
                brand_color=brand_color,
                logo_url=logo_url or None,
            )
            console.print(f"shop {merchant.slug} created (id {merchant.id})")
    except RetourError as error:
        _fail(error)


@app.command("create-user")
def create_user(
    shop: Annotated[str, typer.Option(help="shop slug")],
    email: Annotated[str, typer.Option()],
    role: Annotated[str, typer.Option(help="admin, agent or warehouse")] = "admin",
    name: Annotated[str, typer.Option()] = "",
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)] = "",
) -> None:
    """Create a staff user who can log in to the back-office."""
    from retour.merchant import service
    from retour.merchant.service import Role

    try:
        with unit_of_work(_factory()) as session:
            merchant = service.get_merchant_by_slug(session, shop)
            user = service.create_staff_user(
                session, merchant_id=merchant.id, email=email, password=password, role=cast(Role, role), name=name
            )
            console.print(f"user {user.email} ({user.role}) created in {merchant.slug}")
    except RetourError as error:
        _fail(error)


@app.command("create-api-key")
def create_api_key(
    shop: Annotated[str, typer.Option(help="shop slug")],
    name: Annotated[str, typer.Option()] = "cli",
    scope: Annotated[list[str] | None, typer.Option(help="read, write, refund (repeat)")] = None,
) -> None:
    """Create an API key; the key is printed once, as the last line."""
    from retour.merchant import service

    try:
        with unit_of_work(_factory()) as session:
            merchant = service.get_merchant_by_slug(session, shop)
            issued = service.create_api_key(
                session,
                merchant_id=merchant.id,
                name=name,
                scopes=scope or ["read", "write"],
                actor=Actor.system("CLI"),
            )
            console.print(f"key '{issued.key.name}' for {merchant.slug}, scopes {', '.join(issued.key.scopes)}:")
    except RetourError as error:
        _fail(error)
    print(issued.token)


@app.command()
def demo(
    orders: Annotated[int, typer.Option(help="how many orders")] = 2000,
    force: Annotated[bool, typer.Option(help="load even if the database already has shops")] = False,
) -> None:
    """Load the demo shop (Maison Lune) when the database is empty."""
    from retour.demo import loader

    loader.run(_factory(), console=console, orders=orders, force=force)


@app.command("import")
def import_csv(
    kind: Annotated[str, typer.Argument(help="products or orders")],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    shop: Annotated[str, typer.Option(help="shop slug")],
) -> None:
    """Import products or orders from a CSV file; bad rows are reported with their line number."""
    from retour.importer import csv_import

    if kind not in ("products", "orders"):
        console.print("[red]error[/red]: kind must be 'products' or 'orders'")
        raise typer.Exit(2)
    report = csv_import.run(_factory(), kind=kind, path=path, shop=shop, console=console)
    raise typer.Exit(0 if not report.errors else 1)


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
