"""The one web application: JSON API, customer portal and back-office."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

from retour import __version__
from retour.api import problems
from retour.api.router import api_router, carrier_webhook_router, health_router
from retour.kit.db import make_engine, make_session_factory
from retour.settings import Settings, get_settings
from retour.worker import Worker

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("retour")


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, start_worker: bool | None = None
) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url, pool_size=settings.db_pool_size)
    factory = make_session_factory(engine)
    run_worker = settings.in_process_worker if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = Worker(
            factory,
            poll_seconds=settings.worker_poll_seconds,
            max_attempts=settings.worker_max_attempts,
            periodic_seconds=settings.worker_periodic_seconds,
        )
        if run_worker:
            worker.start_in_thread()
        yield
        worker.stop()

    app = FastAPI(
        title="Retour API",
        version=__version__,
        description="Returns management for online shops. Authenticate with `Authorization: Bearer <api key>`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="retour_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.environment == "production",
    )
    app.include_router(health_router)
    app.include_router(api_router)
    app.include_router(carrier_webhook_router)
    html_handler = _mount_pages(app)
    problems.install(app, html_handler=html_handler)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _mount_pages(app: FastAPI) -> object:
    """The customer portal and back-office routers; returns the HTML error handler, which gives
    portal pages (``/s/...``) the portal's error page and the rest the back-office's."""
    from retour.portal import views as portal

    app.include_router(portal.router)
    backoffice_error: Any = None
    try:
        from retour.backoffice.views import html_error, router
    except ImportError:  # pragma: no cover - pages not built yet
        pass
    else:
        app.include_router(router)
        backoffice_error = html_error

    async def pages_error(request: Request, error: Exception) -> Response:
        if request.url.path.startswith("/s/") or backoffice_error is None:
            return await portal.html_error(request, error)
        response: Response = await backoffice_error(request, error)
        return response

    return pages_error
