"""Where a request's time goes: pyinstrument over POST /api/posts/ in process, through the full stack.

Django's test client runs the same middleware, authentication (knox token),
view, service, publish and projection code as gunicorn does, minus the socket.
"""

from __future__ import annotations

import time
from pathlib import Path

REQUESTS = 300


def profile_post_create(clients_file: Path, output: Path) -> str:
    """Profile REQUESTS post creations; write the full text report to `output`, return its top lines."""
    from django.db import connection
    from django.test import Client
    from pyinstrument import Profiler

    token = clients_file.read_text().split()[0]
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    body = {"title": "Profiled post", "body": "A post of ordinary length, written to see where time goes."}
    for _ in range(20):  # warm caches and the connection
        client.post("/api/posts/", body, content_type="application/json")
    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    with profiler:
        for _ in range(REQUESTS):
            response = client.post("/api/posts/", body, content_type="application/json")
            assert response.status_code == 201, response.content
    per_request_ms = (time.perf_counter() - started) * 1000 / REQUESTS
    text = profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False)
    output.write_text(text)
    connection.close()
    return f"{REQUESTS} requests, {per_request_ms:.2f} ms each under the profiler\n" + text
