from __future__ import annotations

from typing import Any

from tests.browser.conftest import new_page


def test_health_page_renders_in_chromium(live_server: str, browser: Any) -> None:
    page = new_page(browser)
    response = page.goto(f"{live_server}/healthz")
    assert response.status == 200
    assert '"database":"ok"' in page.content()
    page.context.close()
