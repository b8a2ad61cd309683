"""Fixtures that run the platform as real processes (see harness.py)."""

import pytest
from django.db import connection

from tests.conftest import start_at_head

from .harness import Platform


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def platform(transactional_db, request):
    """Private Redis + one web server + beat; workers are started by each test as it needs."""
    running = Platform(database_name=connection.settings_dict["NAME"], name=request.node.name[:60])
    # Earlier tests' events stay in the append-only log while their effects were
    # flushed: the processes of this test start at the log's head.
    start_at_head()
    running.start_redis()
    try:
        yield running
    finally:
        if _failed(request):
            running.print_stacks()  # a loop that hung shows where, in the log dumped below
        running.stop()
        if _failed(request):
            _dump_logs(running)


def _failed(request) -> bool:
    report = getattr(request.node, "rep_call", None)
    return report is not None and report.failed


def _dump_logs(running: Platform) -> None:
    for process in running.processes:
        print(f"----- {process.name} (last 6000 chars) -----\n{process.log()[-6000:]}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def accounts(platform):
    """Register a member and make a staff user (in the test database, visible to the web process)."""
    from django.contrib.auth import get_user_model

    def member(username: str) -> str:
        status, body, _ = platform.request(
            "POST",
            "/api/auth/register/",
            {"username": username, "email": f"{username}@example.com", "password": "correct-Horse-battery-9"},
        )
        assert status == 201, body
        status, body, _ = platform.request(
            "POST", "/api/auth/login/", {"username": username, "password": "correct-Horse-battery-9"}
        )
        assert status == 200, body
        return body["token"]

    def staff(username: str) -> str:
        get_user_model().objects.create_user(
            username=username,
            email=f"{username}@example.com",
            password="staff-Horse-battery-9",
            is_staff=True,
        )
        status, body, _ = platform.request(
            "POST", "/api/auth/login/", {"username": username, "password": "staff-Horse-battery-9"}
        )
        assert status == 200, body
        return body["token"]

    return type("Accounts", (), {"member": staticmethod(member), "staff": staticmethod(staff)})
