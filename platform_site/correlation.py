"""Correlation ids for requests and the Celery tasks they send.

A request's `X-Correlation-ID` (a UUID; anything else is replaced by a fresh
one) becomes the context of every event the request records, is echoed on the
response, and rides along in the headers of Celery tasks sent while handling it.
"""

from __future__ import annotations

import functools
import ipaddress

from celery import signals
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from eventstore.context import (
    current_causation_id,
    current_correlation_id,
    event_context,
    parse_uuid,
)

HEADER = "X-Correlation-ID"
_MAX_USER_AGENT = 512


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or what our own proxies say it was.

    X-Forwarded-For is written by the client too, so only the hops appended by
    proxies we trust (`TRUSTED_PROXIES`: addresses or CIDR ranges) are believed:
    walking from the right, the first address that is not one of our proxies is
    the client. A hop that is not an address at all was not written by a proxy
    of ours, so the last trusted hop (the peer that proxy saw) is the client.
    Lockouts and rate limits rest on this, so nothing a client sends can choose it.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    networks = trusted_proxy_networks(frozenset(settings.TRUSTED_PROXIES))
    if not _is_trusted(remote, networks):
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client = remote
    for hop in reversed(hops):
        if _address(hop) is None:
            return client
        client = hop
        if not _is_trusted(hop, networks):
            return hop
    return client


@functools.lru_cache(maxsize=8)
def trusted_proxy_networks(entries: frozenset[str]) -> tuple:
    """`TRUSTED_PROXIES` as networks: "10.0.0.7" is one address, "172.28.0.0/16" a range.

    An entry that is neither is a configuration mistake that would silently
    trust nobody (or the wrong proxy), so it stops the start instead.
    """
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is not an address or CIDR range"
            ) from None
    return tuple(networks)


def _address(text: str):
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client reaching an IPv6 socket shows as ::ffff:a.b.c.d; it is the IPv4 client.
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _is_trusted(text: str, networks: tuple) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in networks)


class CorrelationIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        trusted_proxy_networks(frozenset(settings.TRUSTED_PROXIES))  # a bad entry stops the start

    def __call__(self, request):
        correlation_id = parse_uuid(request.headers.get(HEADER))
        metadata = {
            "ip": client_ip(request),
            "user_agent": request.headers.get("User-Agent", "")[:_MAX_USER_AGENT],
            "path": request.path[:512],
            "method": request.method,
        }
        with event_context(correlation_id=correlation_id, metadata=metadata) as correlation:
            request.correlation_id = correlation
            response = self.get_response(request)
        response[HEADER] = str(correlation)
        return response


# Celery uses the name `correlation_id` for the task id, hence the prefix.
@signals.before_task_publish.connect
def _add_correlation_headers(headers=None, **_kwargs):
    correlation = current_correlation_id()
    if headers is not None and correlation is not None:
        headers["platform_correlation_id"] = str(correlation)
        causation = current_causation_id()
        if causation is not None:
            headers["platform_causation_id"] = str(causation)


_task_contexts: dict[str, object] = {}


@signals.task_prerun.connect
def _enter_task_context(task_id=None, task=None, **_kwargs):
    request = task.request
    context = event_context(
        correlation_id=parse_uuid(request.get("platform_correlation_id")),
        causation_id=parse_uuid(request.get("platform_causation_id")),
        metadata={"task": task.name},
    )
    context.__enter__()
    _task_contexts[task_id] = context


@signals.task_postrun.connect
def _leave_task_context(task_id=None, **_kwargs):
    context = _task_contexts.pop(task_id, None)
    if context is not None:
        context.__exit__(None, None, None)
