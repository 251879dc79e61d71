"""docker-compose.yml cannot run here (no Docker engine), so check that every service's command
points at code and settings that exist, and that the web server logs no query strings."""

import datetime
import importlib
import json
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.management import get_commands

BASE_DIR = Path(__file__).resolve().parents[2]
NATIONAL_ID = "12010319750522862X"


def compose():
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def command_of(service) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else command


def test_the_production_topology_has_its_services():
    services = compose()["services"]

    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert (BASE_DIR / "Dockerfile").is_file()


def test_app_services_use_settings_that_exist_and_one_image():
    services = compose()["services"]
    for name in ("web", "worker", "beat", "migrate"):
        environment = services[name]["environment"]
        importlib.import_module(environment["DJANGO_SETTINGS_MODULE"].replace(".production", ".base"))
        assert environment["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert (BASE_DIR / "config" / "settings" / "production.py").is_file()
        assert services[name]["build"] == "."
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://redis:")


def test_web_runs_the_wsgi_application_under_gunicorn():
    command = command_of(compose()["services"]["web"])

    assert command[0] == "gunicorn"
    module, attribute = command[1].split(":")
    assert hasattr(importlib.import_module(module), attribute)


def test_worker_and_beat_run_the_celery_app_with_the_database_scheduler():
    services = compose()["services"]
    worker, beat = command_of(services["worker"]), command_of(services["beat"])

    for command in (worker, beat):
        assert command[:3] == ["celery", "-A", "config"]
        assert importlib.import_module(command[2]).celery_app.main == "collection_desk"
    assert worker[3] == "worker" and beat[3] == "beat"
    scheduler = beat[beat.index("--scheduler") + 1]
    module, attribute = scheduler.split(":")
    assert hasattr(importlib.import_module(module), attribute)


def test_migrate_runs_a_management_command_that_exists():
    command = command_of(compose()["services"]["migrate"])

    assert command[:2] == ["python", "manage.py"]
    assert command[2] in get_commands()


def test_the_image_and_ci_install_the_font_the_legal_letters_embed():
    assert "fonts-arphic-uming" in (BASE_DIR / "Dockerfile").read_text()
    assert "fonts-arphic-uming" in (BASE_DIR / ".ci" / "run").read_text()
    assert str(settings.LEGAL_LETTER_FONT_FILE).startswith("/usr/share/fonts/truetype/arphic/")


def test_the_dockerfile_default_command_matches_the_web_service():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()

    assert 'CMD ["gunicorn", "config.wsgi:application"' in dockerfile


# --- the web server's access log (review F10): no query strings, no referrer ---


def web_command() -> list[str]:
    return command_of(compose()["services"]["web"])


def dockerfile_command() -> list[str]:
    line = next(line for line in (BASE_DIR / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    return json.loads(line.removeprefix("CMD "))


def access_log_line(log_format: str) -> str:
    """The line gunicorn's access log writes in this format for an admin search by national ID."""
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    class Response:
        status = "200 OK"
        sent = 1024
        headers = []

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/admin/loans/borrower/?q={NATIONAL_ID}",
        "PATH_INFO": "/admin/loans/borrower/",
        "QUERY_STRING": f"q={NATIONAL_ID}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_REFERER": f"https://desk.example/admin/loans/borrower/?q={NATIONAL_ID}",
        "HTTP_USER_AGENT": "Mozilla/5.0",
    }
    logger = Logger(Config())
    atoms = logger.atoms(Response(), [], environ, datetime.timedelta(milliseconds=5))
    return log_format % logger.atoms_wrapper_class(atoms)


def test_gunicorns_default_access_log_would_record_the_search():
    from gunicorn.config import Config

    assert NATIONAL_ID in access_log_line(Config().access_log_format)


@pytest.mark.parametrize("command", [web_command, dockerfile_command], ids=["compose", "dockerfile"])
def test_the_access_log_records_the_path_without_the_query_string(command):
    arguments = command()
    assert arguments[arguments.index("--access-logfile") + 1] == "-"
    log_format = arguments[arguments.index("--access-logformat") + 1]

    line = access_log_line(log_format)

    assert '"GET /admin/loans/borrower/ HTTP/1.1" 200' in line
    assert NATIONAL_ID not in line


def test_gunicorn_is_published_on_the_hosts_loopback_only_behind_the_tls_proxy():
    ports = compose()["services"]["web"]["ports"]

    assert ports == ["127.0.0.1:8000:8000"]
