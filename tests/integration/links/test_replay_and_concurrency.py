"""Replay equals live for the links projection; concurrent first requests make one link, one scan."""

import threading

import pytest
from django.db import connection

from eventstore.reading import read_stream
from eventstore.replay import rebuild_projection
from links_app.models import Link, Scan
from links_app.projections import links_projection
from links_app.scanner import normalize_url
from links_app.services import link_id_for, link_scan_perform, link_scan_request, link_verify


def snapshot(link_ids) -> tuple[list[dict], list[dict]]:
    """Every column of the links' rows (other tests' committed events may add other links)."""
    links = list(Link.objects.filter(id__in=link_ids).order_by("id").values())
    scans = list(Scan.objects.filter(link_id__in=link_ids).order_by("id").values())
    return links, scans


@pytest.mark.django_db
def test_rebuild_gives_exactly_the_live_rows(fresh_url, moderator, scanner_says, monkeypatch):
    scanner_says("malicious")
    first = link_scan_request(url=fresh_url(), requested_by=moderator.pk).scan
    link_scan_perform(scan_id=first.id)
    link_verify(link_id=first.link_id, verdict="safe", note="checked", moderator=moderator)
    rescan = link_scan_request(url=first.url, rescan=True).scan  # left pending
    monkeypatch.setattr("links_app.services.perform.scan_url", lambda url: 1 / 0)
    failing = link_scan_request(url=fresh_url()).scan
    link_scan_perform(scan_id=failing.id)
    link_ids = [first.link_id, failing.link_id]
    live = snapshot(link_ids)
    assert Scan.objects.get(id=rescan.id).status == "pending"

    rebuild_projection(links_projection)

    assert snapshot(link_ids) == live


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_for_one_link_make_one_scan(fresh_url):
    url = fresh_url()
    barrier = threading.Barrier(4)
    scan_ids, errors = [], []

    def request():
        try:
            barrier.wait()
            scan_ids.append(link_scan_request(url=url).scan.id)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(scan_ids)) == 1
    events = read_stream(f"link-{link_id_for(normalize_url(url))}")
    assert [e.type for e in events] == ["link:scan_requested"]
