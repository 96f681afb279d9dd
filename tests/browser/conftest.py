"""Browser tests: a real uvicorn server on a free port, driven by Debian's chromium through
Playwright. They skip (with the reason) when chromium is missing, unless RETOUR_REQUIRE_BROWSER is
set, as in CI, where a missing browser is a failure."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from retour.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _require_browser() -> None:
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} not found (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("RETOUR_REQUIRE_BROWSER"):
            pytest.fail(f"browser tests are mandatory here but {problem}")
        pytest.skip(f"browser test skipped: {problem}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(sqlite_engine: Engine, tmp_path: Path) -> Iterator[str]:
    """The whole app on http://127.0.0.1:<port>, on the test SQLite database."""
    _require_browser()
    import uvicorn

    from retour.app import create_app

    port = _free_port()
    settings = Settings(
        environment="test",
        database_url="sqlite://",
        storage_dir=tmp_path / "storage",
        port=port,
        secret_key="browser-test-secret-key-0123456789abcdef",
        in_process_worker=False,
        base_url=f"http://127.0.0.1:{port}",
    )
    app = create_app(settings, engine=sqlite_engine, start_worker=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def _playwright() -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()


def new_page(browser: Any, *, width: int = 1280, height: int = 800, locale: str = "en-GB", mobile: bool = False) -> Any:
    context = browser.new_context(
        viewport={"width": width, "height": height}, locale=locale, is_mobile=mobile, has_touch=mobile
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


def screenshot(page: Any, name: str) -> Path:
    """Save a screenshot under test-artifacts/ (ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
