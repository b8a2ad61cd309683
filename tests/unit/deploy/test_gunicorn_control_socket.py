"""gunicorn's control socket: one per port, where any user can create it."""

import os
import runpy
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def read_config(monkeypatch, **environment) -> dict:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))


def test_each_port_has_its_own_socket_in_the_temporary_directory_whatever_home_is(monkeypatch):
    """With gunicorn's default ($HOME/.gunicorn) an unwritable HOME meant an ERROR at each start."""
    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    first = read_config(monkeypatch, PORT="18001", HOME="/proc/not-writable")["control_socket"]
    second = read_config(monkeypatch, PORT="18002", HOME="/proc/not-writable")["control_socket"]
    assert first != second
    for path in (first, second):
        assert os.path.dirname(path) == tempfile.gettempdir()
        assert os.access(os.path.dirname(path), os.W_OK)
    assert read_config(monkeypatch, GUNICORN_CONTROL_SOCKET="/run/platform/web.ctl")["control_socket"] == (
        "/run/platform/web.ctl"
    )
