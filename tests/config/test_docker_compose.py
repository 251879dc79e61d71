"""docker-compose.yml cannot run here (no Docker engine), so check that every service's command
points at code and settings that exist."""

import importlib
import shlex
from pathlib import Path

import yaml
from django.core.management import get_commands

BASE_DIR = Path(__file__).resolve().parents[2]


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


def test_the_dockerfile_default_command_matches_the_web_service():
    dockerfile = (BASE_DIR / "Dockerfile").read_text()

    assert 'CMD ["gunicorn", "config.wsgi:application"' in dockerfile
