"""The shipped proxy (deploy/nginx.conf) in front of gunicorn: each client keeps its own address.

Debian's nginx runs as a private process with deploy/nginx.conf (only the
upstream and the listen address changed) in front of a real gunicorn; clients
connect from distinct loopback addresses, as distinct machines would. Without
`$proxy_add_x_forwarded_for` and a CIDR `TRUSTED_PROXIES`, every client looked
like the proxy: one client's wrong passwords locked every user out.
"""

from __future__ import annotations

import http.client
import json
import shutil
from pathlib import Path

import pytest

from .harness import ROOT, free_port, wait_for

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(autouse=True)
def _nginx_installed():
    # A missing nginx fails this test rather than skipping it: .ci/run installs Debian's nginx-light.
    assert Path(NGINX).exists(), "nginx is not installed: apt-get install nginx-light (.ci/run does)"


ATTACKER = "127.0.1.66"
BYSTANDER = "127.0.1.77"
PASSWORD = "correct-Horse-battery-9"


def start_nginx(platform, tmp_path: Path, web_port: int) -> int:
    port = free_port()
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("server web:8000;", f"server 127.0.0.1:{web_port};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    (tmp_path / "site.conf").write_text(site)
    temp = "".join(f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy"))
    (tmp_path / "nginx.conf").write_text(
        f"user root;\nworker_processes 1;\ndaemon off;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\naccess_log off;\n{temp}include {tmp_path}/site.conf;\n}}\n"
    )
    platform._spawn("nginx", [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")])
    wait_for(lambda: _listening(port), timeout=15, message="nginx")
    return port


def _listening(port: int) -> bool:
    try:
        http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
        return True
    except OSError:
        return False


def send(port: int, method: str, path: str, body: dict | None = None, *, source: str, headers=None):
    """One request from the loopback address `source`: (status, json body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        connection.request(
            method,
            path,
            body=json.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json", "Host": "localhost", **(headers or {})},
        )
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else {}
    finally:
        connection.close()


@pytest.fixture
def proxied(platform, tmp_path):
    # nginx reaches gunicorn from 127.0.0.1: a range, as in compose where the proxy's address changes.
    platform.extra_env["TRUSTED_PROXIES"] = "127.0.0.0/29"
    web_port = platform.start_web()
    return start_nginx(platform, tmp_path, web_port), web_port


def test_one_client_locked_out_by_address_leaves_other_clients_and_users_alone(proxied):
    port, _web = proxied
    status, body = send(
        port,
        "POST",
        "/api/auth/register/",
        {"username": "victim", "email": "victim@example.com", "password": PASSWORD},
        source=BYSTANDER,
    )
    assert status == 201, body
    # 20 wrong passwords over 20 usernames (password spraying) lock the attacker's address;
    # a forged X-Forwarded-For naming the bystander does not move the blame.
    for n in range(20):
        status, _ = send(
            port,
            "POST",
            "/api/auth/login/",
            {"username": f"guess{n}", "password": "wrong"},
            source=ATTACKER,
            headers={"X-Forwarded-For": BYSTANDER},
        )
        assert status == 401
    status, _ = send(
        port, "POST", "/api/auth/login/", {"username": "victim", "password": PASSWORD}, source=ATTACKER
    )
    assert status == 429
    status, body = send(
        port, "POST", "/api/auth/login/", {"username": "victim", "password": PASSWORD}, source=BYSTANDER
    )
    assert status == 200, body


def test_registration_limit_counts_each_client_behind_the_proxy(proxied):
    port, _web = proxied
    statuses = [
        send(
            port,
            "POST",
            "/api/auth/register/",
            {"username": f"spam{n}", "email": f"spam{n}@example.com", "password": PASSWORD},
            source=ATTACKER,
        )[0]
        for n in range(11)
    ]
    assert statuses == [201] * 10 + [429]
    status, body = send(
        port,
        "POST",
        "/api/auth/register/",
        {"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD},
        source=BYSTANDER,
    )
    assert status == 201, body


def test_a_client_cannot_claim_https_through_the_proxy(proxied, django_user_model):
    from community_app.services import post_create

    port, web_port = proxied
    author = django_user_model.objects.create_user(username="author", email="author@example.com")
    for n in range(21):  # one more than a page, so the answer carries an absolute `next` link
        post_create(author=author, title=f"post {n}", body="body")
    claim = {"X-Forwarded-Proto": "https"}
    # Straight to gunicorn (which believes a local peer) the header would decide the scheme …
    _status, direct = send(web_port, "GET", "/api/posts/", source="127.0.0.1", headers=claim)
    assert direct["next"].startswith("https://")
    # … through the proxy the client's claim is replaced by the scheme it really used.
    _status, proxied_page = send(port, "GET", "/api/posts/", source=ATTACKER, headers=claim)
    assert proxied_page["next"].startswith("http://")
