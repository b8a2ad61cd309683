"""The "links" subscriber: scans for the URLs of new and edited posts."""

import uuid

import pytest
from django.db import transaction

from eventstore.bus import publish
from eventstore.reading import read_stream
from links_app.handlers import community_posts_subscriber, scan_post_urls
from links_app.services import link_scan_perform, link_scan_request

pytestmark = pytest.mark.django_db


def post_created(urls: list[str]):
    post_id = uuid.uuid4()
    with transaction.atomic():
        return publish(
            "community:post_created",
            stream_id=f"post-{post_id}",
            data={
                "post_id": post_id,
                "title": "Links",
                "body_text": " ".join(urls),
                "author_id": 1,
                "author_username": "author",
                "urls": urls,
            },
        )


def test_subscriber_listens_to_new_and_edited_posts():
    assert community_posts_subscriber.name == "links"
    assert community_posts_subscriber.event_types == ["community:post_created", "community:post_updated"]


def test_new_post_requests_a_scan_of_each_url_with_its_post_id(fresh_url, link_events):
    urls = [fresh_url(), fresh_url()]
    event = post_created(urls)
    scan_post_urls(event)
    for url in urls:
        [requested] = link_events(url)
        assert requested.type == "link:scan_requested"
        assert requested.data["post_id"] == str(event.data["post_id"])
        assert requested.data["requested_by"] is None


def test_redelivered_post_event_requests_nothing_more(fresh_url, link_events):
    url = fresh_url()
    event = post_created([url])
    scan_post_urls(event)
    scan_post_urls(event)
    assert len(link_events(url)) == 1


def test_url_with_a_recent_result_is_not_scanned_again(fresh_url, link_events, scanner_says):
    scanner_says("safe")
    known = fresh_url()
    link_scan_perform(scan_id=link_scan_request(url=known).scan.id)
    before = len(link_events(known))
    scan_post_urls(post_created([known]))
    assert len(link_events(known)) == before


def test_edit_without_new_body_requests_nothing(fresh_url):
    post_id = uuid.uuid4()
    with transaction.atomic():
        event = publish(
            "community:post_updated",
            stream_id=f"post-{post_id}",
            data={"post_id": post_id, "changed": {"title": {"before": "a", "after": "b"}}, "editor_id": 1},
        )
        scan_post_urls(event)
    assert [e.type for e in read_stream(f"post-{post_id}")] == ["community:post_updated"]


def test_edit_with_new_urls_requests_their_scans(fresh_url, link_events):
    post_id, url = uuid.uuid4(), fresh_url()
    with transaction.atomic():
        event = publish(
            "community:post_updated",
            stream_id=f"post-{post_id}",
            data={
                "post_id": post_id,
                "changed": {"body": {"before": "old", "after": url}},
                "urls": [url],
                "editor_id": 1,
            },
        )
    scan_post_urls(event)
    [requested] = link_events(url)
    assert requested.data["post_id"] == str(post_id)
