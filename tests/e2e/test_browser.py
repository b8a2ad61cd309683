"""The browser UI in Debian's headless Chromium against the platform's real processes.

Every page visited is saved under test-artifacts/screenshots/ for a person to look at.
"""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from .harness import ARTIFACTS, wait_for
from .test_flows import flagged, malicious_url, post_with_link

pytestmark = pytest.mark.browser

SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 860}
STAFF_PASSWORD = "staff-Horse-battery-9"


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _sync_database_access_beside_playwright(monkeypatch):
    # Playwright's sync API runs an asyncio loop in this thread; our database calls stay
    # synchronous, so Django's async-safety guard would refuse them without this.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")


@pytest.fixture
def browser_context(chromium):
    # A zone other than the server's UTC, to see times shown in the viewer's zone.
    context = chromium.new_context(viewport=LAPTOP, timezone_id="Europe/Berlin", locale="en-GB")
    context.set_default_timeout(30_000)
    yield context
    context.close()


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def make_superuser() -> str:
    username = f"boss{uuid.uuid4().hex[:6]}"
    get_user_model().objects.create_user(
        username=username,
        email=f"{username}@example.com",
        password=STAFF_PASSWORD,
        is_staff=True,
        is_superuser=True,
    )
    return username


def admin_login(page, base: str, username: str, *, screenshot: str | None = None) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", STAFF_PASSWORD)
    if screenshot:
        shoot(page, screenshot)
    page.click("input[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def events_of(stream_id: str) -> list:
    from eventstore.reading import read_stream

    return read_stream(stream_id)


def test_moderators_log_in_to_the_admin_verify_a_link_and_delete_a_post(platform, accounts, browser_context):
    port = platform.start_web()
    platform.start_worker("admin")
    platform.start_beat()
    base = f"http://127.0.0.1:{port}"
    member = accounts.member(f"poster{uuid.uuid4().hex[:6]}")
    post = post_with_link(platform, member, uuid.uuid4())
    wait_for(lambda: flagged(platform, post["id"]), timeout=60, message="the post to be flagged")
    link_id = platform.request("GET", f"/api/posts/{post['id']}/")[1]["links"][0]["id"]

    page = browser_context.new_page()
    admin_login(page, base, make_superuser(), screenshot="admin-login")
    assert page.locator("#content h1").inner_text() == "Site administration"
    shoot(page, "admin-index")

    # Verify the link: the admin's form calls link_verify, which records link:link_verified.
    page.goto(f"{base}/admin/links_app/link/{link_id}/change/")
    page.click("text=Verify (moderator)")
    page.select_option("#id_verdict", "safe")
    page.fill("#id_note", "checked by hand: our partner's test server")
    shoot(page, "admin-link-verify")
    page.click("input[type=submit]")
    assert "verified as safe" in page.locator(".messagelist").inner_text()
    verified = [e for e in events_of(f"link-{link_id}") if e.type == "link:link_verified"]
    assert len(verified) == 1 and verified[0].metadata["path"].startswith("/admin/")
    wait_for(lambda: not flagged(platform, post["id"]), timeout=60, message="the post to be unflagged")

    # Delete the post with the moderator action: community:post_deleted, as through the API.
    page.goto(f"{base}/admin/community_app/post/?q={post['id']}")
    page.check(f"input[name=_selected_action][value='{post['id']}']")
    page.select_option("select[name=action]", "delete_as_moderator")
    page.click("button[name=index]")
    assert "1 post(s) deleted." in page.locator(".messagelist").inner_text()
    shoot(page, "admin-post-deleted")
    assert events_of(f"post-{post['id']}")[-1].type == "community:post_deleted"
    assert platform.request("GET", f"/api/posts/{post['id']}/")[0] == 404


def node_depths(page) -> dict[str, int]:
    """Each event type of the causal tree with its depth (number of enclosing lists)."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.tree .node .type')].map(
            (el) => [el.textContent.trim(), (function depth(n) { let d = 0;
              for (; n; n = n.parentElement) if (n.tagName === 'UL') d++; return d; })(el)]))"""
    )


def test_a_post_created_through_the_api_appears_live_and_its_chain_is_followed(
    platform, accounts, browser_context
):
    port = platform.start_web()
    platform.start_worker("live")
    platform.start_beat()
    base = f"http://127.0.0.1:{port}"
    member = accounts.member(f"poster{uuid.uuid4().hex[:6]}")
    page = browser_context.new_page()
    admin_login(page, base, make_superuser())

    page.goto(f"{base}/dashboard/")
    page.wait_for_selector("#live-state.ok")  # the EventSource is connected
    page.evaluate("window.__sameDocument = true")
    correlation = uuid.uuid4()
    post = post_with_link(platform, member, correlation, url=malicious_url())

    row = f'#live-events li[data-correlation-id="{correlation}"]'
    page.wait_for_selector(f'{row}[data-type="community:post_created"]', timeout=60_000)
    page.wait_for_selector(f'{row}[data-type="community:post_flagged"]', timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True, "the page must not have reloaded"
    # The per-minute chart counts from the async event-statistics projection; it refreshes every 10 s.
    page.wait_for_function(
        "[...document.querySelectorAll('#rate-chart rect.bar')].some((bar) => +bar.getAttribute('height') > 0)",
        timeout=60_000,
    )
    page.wait_for_selector("#type-chart svg")
    page.wait_for_function("document.querySelector('[data-check=workers] .state').textContent === 'ok'")
    assert page.locator('[data-check="postgres"] .state').inner_text() == "ok"
    assert page.locator('[data-check="redis"] .state').inner_text() == "ok"
    shoot(page, "dashboard-live")
    state = browser_context.storage_state()

    page.click(f'{row}[data-type="community:post_created"] a.chain')
    page.wait_for_url(f"{base}/explorer/correlation/{correlation}/")
    depths = node_depths(page)
    assert (
        depths["community:post_created"]
        < depths["link:scan_requested"]
        < depths["link:threat_detected"]
        < depths["community:post_flagged"]
    ), depths
    assert depths["link:scan_completed"] == depths["link:threat_detected"]
    assert "POST /api/posts/" in page.locator(".node.root").inner_text()
    assert "ms" in page.locator(".timing").first.inner_text()
    shoot(page, "explorer-correlation")

    page.click(f"a[href^='/explorer/streams/post-{post['id']}/']")
    page.wait_for_selector("#v1")
    assert "State after v1" in page.locator("#v1").inner_text()
    shown_time = page.locator("#v1 time").inner_text()
    assert "UTC" not in shown_time, "times are shown in the viewer's zone"
    assert page.locator("footer [data-local-zone]").inner_text() == "Europe/Berlin"
    shoot(page, "explorer-stream")

    page.goto(f"{base}/explorer/?type=community:post_flagged&since=1h")
    assert post["id"] in page.locator("table.events").inner_text()
    shoot(page, "explorer-list")
    page.goto(f"{base}/explorer/?type=user:created&since=15m&stream_id=nothing-here")
    assert "No events match these filters" in page.inner_text("main")
    shoot(page, "explorer-empty")

    with_phone = browser_context.browser.new_context(
        viewport=PHONE, storage_state=state, timezone_id="Europe/Berlin", is_mobile=True
    )
    try:
        phone = with_phone.new_page()
        phone.goto(f"{base}/dashboard/")
        phone.wait_for_selector("#live-state.ok")
        phone.wait_for_selector("#rate-chart svg")
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the dashboard scrolls sideways on a phone by {overflow}px"
        shoot(phone, "phone-dashboard")
        phone.goto(f"{base}/explorer/correlation/{correlation}/")
        shoot(phone, "phone-explorer-correlation")
        phone.goto(f"{base}/explorer/?since=1h")
        shoot(phone, "phone-explorer-list")
    finally:
        with_phone.close()


def test_a_parked_event_is_retried_from_the_admin(platform, browser_context):
    from eventstore.bus import publish
    from eventstore.models import Checkpoint, ParkedEvent
    from tests.sample_events import THING_HAPPENED
    from tests.testapp.handlers import effect_count

    port = platform.start_web()
    platform.start_worker("parking")
    platform.start_beat()
    base = f"http://127.0.0.1:{port}"
    with transaction.atomic():
        bad = publish(THING_HAPPENED, stream_id=f"thing-{uuid.uuid4().hex[:8]}", data={"label": "explode"})
    parked = wait_for(
        lambda: ParkedEvent.objects.filter(subscriber="test-recorder", event_id=bad.id).first(),
        timeout=60,
        message="the failing event to be parked",
    )

    page = browser_context.new_page()
    admin_login(page, base, make_superuser())
    page.goto(f"{base}/dashboard/")
    parked_cell = page.locator('tr[data-subscriber="test-recorder"] .parked')
    assert int(parked_cell.inner_text()) >= 1
    page.wait_for_selector("#rate-chart svg")
    shoot(page, "dashboard-parked")
    parked_cell.locator("a").click()
    page.wait_for_selector("#result_list")

    def retry_in_admin():
        page.check(f"input[name=_selected_action][value='{parked.pk}']")
        page.select_option("select[name=action]", "retry_selected")
        page.click("button[name=index]")
        return page.locator(".messagelist").inner_text()

    assert "failed again: Exploded" in retry_in_admin()
    shoot(page, "admin-parked-retry-failed")
    parked.refresh_from_db()
    assert parked.resolved_at is None

    Checkpoint.objects.create(name="allow:explode")  # the cause is fixed
    page.goto(f"{base}/admin/eventstore/parkedevent/?resolved=no")
    assert "1 parked event(s) retried successfully." in retry_in_admin()
    shoot(page, "admin-parked-retry-done")
    parked.refresh_from_db()
    assert parked.resolved_at is not None
    assert effect_count(bad.id) == 1
