"""`python manage.py test` runs the same pytest suite, with the test settings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_manage_py_test_hands_over_to_pytest():
    # A file without database access: the child must not touch the test database in use here.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "manage.py", "test", "tests/unit/test_client_ip.py", "-v", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "test_without_trusted_proxies_the_peer_is_the_client" in result.stdout
    assert "passed" in result.stdout
