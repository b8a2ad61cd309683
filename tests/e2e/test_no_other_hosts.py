"""No page of the site asks a browser to fetch anything from another host.

Staff hold sessions on these pages, and the site must work without internet:
a CDN script would run with a staff session's rights, a font or a validator
badge would tell another host who reads the docs. Chromium visits every kind of
page, anonymous and signed in as staff; requests to any other host are recorded
and refused (so the test needs no network either), and each page must still
render what it is for.
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

import pytest

from .test_browser import (  # the browser fixtures and helpers of the UI tests
    _sync_database_access_beside_playwright,  # noqa: F401
    admin_login,
    browser_context,  # noqa: F401
    chromium,  # noqa: F401
    make_superuser,
    shoot,
)

pytestmark = pytest.mark.browser

# Each page, and a selector that appears only once the page has rendered its content.
ANONYMOUS_PAGES = {
    "/": "h1",
    "/admin/login/": "#id_username",
    "/api/docs/": ".swagger-ui .info .title",
    "/api/redoc/": "redoc h1",
}
STAFF_PAGES = {
    "/": "text=Live dashboard",
    "/dashboard/": "#live-state.ok",
    "/explorer/": "h1",
    "/admin/": "#content h1",
    "/admin/community_app/post/": "#changelist",
    "/api/docs/": ".swagger-ui .opblock",
}


def watch_other_hosts(context, base: str) -> list[str]:
    """Record and refuse every request the pages make to a host other than the site's."""
    own = urlsplit(base).netloc
    elsewhere: list[str] = []

    def route(route):
        url = route.request.url
        if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and urlsplit(url).netloc != own:
            elsewhere.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", route)
    return elsewhere


def page_name(path: str) -> str:
    return path.strip("/").replace("/", "-") or "front-door"


def visit(page, base: str, path: str, ready: str, screenshot: str) -> None:
    response = page.goto(f"{base}{path}", wait_until="load")
    assert response is not None and response.status == 200, f"{path}: {response and response.status}"
    page.wait_for_selector(ready)
    page.wait_for_timeout(500)  # late requests (fonts, badges, lazy scripts) have their chance
    shoot(page, screenshot)


def test_no_page_requests_anything_from_another_host(platform, browser_context):  # noqa: F811
    port = platform.start_web()
    platform.start_worker("hosts")
    base = f"http://127.0.0.1:{port}"
    elsewhere = watch_other_hosts(browser_context, base)
    seen: list[str] = []
    browser_context.on("request", lambda request: seen.append(request.url))

    page = browser_context.new_page()
    for path, ready in ANONYMOUS_PAGES.items():
        visit(page, base, path, ready, f"no-other-hosts-anonymous-{page_name(path)}")
    assert "The platform API" in page.locator("redoc h1").inner_text()

    admin_login(page, base, make_superuser())
    for path, ready in STAFF_PAGES.items():
        visit(page, base, path, ready, f"no-other-hosts-staff-{page_name(path)}")

    assert elsewhere == []
    # The docs pages did load their own copies of Swagger UI and ReDoc.
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in seen)
    assert any("/static/drf_spectacular_sidecar/redoc/" in url for url in seen)


def test_the_watch_sees_a_request_to_another_host(platform, browser_context):  # noqa: F811
    # The check itself can fail: a page that asks for another host's file is caught.
    port = platform.start_web()
    base = f"http://127.0.0.1:{port}"
    elsewhere = watch_other_hosts(browser_context, base)
    page = browser_context.new_page()
    page.goto(f"{base}/")
    marker = f"https://cdn.example.net/{uuid.uuid4().hex}.js"
    page.evaluate(
        "(src) => { const s = document.createElement('script'); s.src = src; document.head.append(s); }",
        marker,
    )
    page.wait_for_timeout(500)
    assert elsewhere == [marker]
