"""Odd input to the staff pages (explorer, dashboard, live feed) is a 4xx or a page, never a 500,
and a stream id built from user input never makes a link that leaves the explorer."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote, urljoin

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore.bus import publish
from tests.sample_events import THING_HAPPENED

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(staff):
    browser = Client(raise_request_exception=False)
    browser.force_login(staff)
    return browser


@pytest.mark.parametrize("last_event_id", ["²", "١٢", "12a", "-1", "9" * 40, "", " 7", "\u00a0"])
def test_odd_last_event_ids_open_the_live_feed_from_now(staff_browser, last_event_id):
    response = staff_browser.get("/dashboard/live/", HTTP_LAST_EVENT_ID=last_event_id)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path", ["/explorer/streams/a%00b/", "/explorer/streams/%00/", "/explorer/streams/" + "x" * 300 + "/"]
)
def test_a_stream_path_no_stream_can_have_is_a_404(staff_browser, path):
    assert staff_browser.get(path).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"stream_id": "a\x00b"},
        {"before": "9" * 40},
        {"before": "-5"},
        {"since": "forever"},
        {"type": "\x00"},
        {"correlation_id": "not-a-uuid\x00"},
    ],
)
def test_odd_explorer_filters_are_answered_with_the_page(staff_browser, query):
    assert staff_browser.get("/explorer/", query).status_code == 200


def test_stream_ids_from_user_input_link_only_inside_the_explorer(staff_browser):
    hostile = f"x/../../admin/auth_app/user/{uuid.uuid4().hex[:6]}"
    with transaction.atomic():
        event = publish(THING_HAPPENED, stream_id=hostile, data={"label": "hostile"})
    pages = ["/explorer/", f"/explorer/correlation/{event.correlation_id}/"]
    for page in pages:
        html = staff_browser.get(page).content.decode()
        links = [href for href in re.findall(r'href="([^"#]*)', html) if "streams" in href]
        assert links, page
        for href in links:
            resolved = urljoin(f"http://testserver{page}", href)  # what a browser follows
            assert resolved.startswith("http://testserver/explorer/streams/"), (page, href)
    # … and the encoded link opens the stream it names.
    response = staff_browser.get(f"/explorer/streams/{quote(hostile, safe='')}/")
    assert response.status_code == 200 and "hostile" in response.content.decode()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(stream_id=st.text(min_size=1, max_size=60), last_event_id=st.text(max_size=12))
def test_fuzzed_stream_paths_and_headers_never_break_the_staff_pages(staff_browser, stream_id, last_event_id):
    stream_page = staff_browser.get(f"/explorer/streams/{quote(stream_id, safe='')}/")
    assert stream_page.status_code in (200, 404), (stream_id, stream_page.status_code)
    listing = staff_browser.get("/explorer/", {"stream_id": stream_id, "before": last_event_id})
    assert listing.status_code == 200
    try:
        header = last_event_id.encode("latin-1").decode("latin-1")
    except UnicodeEncodeError:
        header = last_event_id.encode("utf-8").decode("latin-1")  # as the bytes arrive over HTTP
    live = staff_browser.get("/dashboard/live/", HTTP_LAST_EVENT_ID=header)
    assert live.status_code == 200
