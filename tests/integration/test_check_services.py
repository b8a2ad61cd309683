"""`make run` and `make test` first check the services and say clearly which one is down."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_services.py"


def run_check(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("variable", "url", "named", "how"),
    [
        ("REDIS_URL", "redis://127.0.0.1:{port}/0", "Redis is not reachable", "redis-server"),
        (
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:{port}/platform",
            "PostgreSQL is not reachable",
            "pg_ctlcluster",
        ),
    ],
)
def test_an_unreachable_service_is_named_with_the_command_that_starts_it(variable, url, named, how):
    result = run_check(**{variable: url.format(port=free_port())})
    assert result.returncode == 1
    assert named in result.stderr and how in result.stderr
    assert "Traceback" not in result.stderr


def test_with_both_services_up_it_passes():
    result = run_check()
    assert result.returncode == 0, result.stderr
    assert "reachable" in result.stdout
