import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.celery_app import app as celery_app

BASE_DIR = Path(__file__).resolve().parents[2]


def settings_value(module: str, expression: str, **env) -> subprocess.CompletedProcess:
    """Import a settings module in a fresh interpreter with exactly the given environment."""
    clean_env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": module, **env}
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps([{expression}], default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=clean_env, capture_output=True, text=True, timeout=60
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = settings_value("config.settings.production", "settings.DEBUG", ALLOWED_HOSTS="desk.example")

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = settings_value("config.settings.production", "settings.DEBUG", SECRET_KEY=secrets.token_urlsafe(50))

    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_production_starts_with_both_and_debug_off():
    result = settings_value(
        "config.settings.production",
        "settings.DEBUG, settings.ALLOWED_HOSTS",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="a,b",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, ["a", "b"]]


def test_defaults_need_no_server(tmp_path):
    result = settings_value(
        "config.settings.local",
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'], settings.CELERY_BROKER_URL",
    )

    assert result.returncode == 0, result.stderr
    engine, name, broker = json.loads(result.stdout)
    assert engine == "django.db.backends.sqlite3"
    assert Path(name).is_absolute() and Path(name) == BASE_DIR / "var" / "db.sqlite3"
    assert broker == "filesystem://"
    assert (BASE_DIR / "var" / "celery" / "queue").is_dir()


def test_database_url_and_redis_url_come_from_the_environment():
    result = settings_value(
        "config.settings.local",
        "settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'], settings.CELERY_BROKER_URL",
        DATABASE_URL="postgres://u:p@db.internal:5432/desk",
        REDIS_URL="redis://cache.internal:6379/0",
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["django.db.backends.postgresql", "desk", "redis://cache.internal:6379/0"]


def test_time_zone_and_languages():
    assert settings.TIME_ZONE == "Asia/Shanghai" and settings.USE_TZ
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _name in settings.LANGUAGES] == ["zh-hans", "en"]


def test_celery_reads_its_configuration_from_django_settings():
    assert celery_app.conf.broker_url == settings.CELERY_BROKER_URL
    assert celery_app.conf.timezone == "Asia/Shanghai"
    assert celery_app.conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"


@pytest.mark.redis
def test_the_broker_and_cache_answer_on_redis():
    from django.core.cache import cache

    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=2)
    cache.set("desk-health", "ok", 5)
    assert cache.get("desk-health") == "ok"


def test_migrations_are_checked_in_for_every_model_change(db):
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.parametrize(("worker", "database"), [("", "15"), ("gw0", "15"), ("gw1", "14"), ("gw3", "12")])
def test_each_test_process_has_a_redis_database_of_its_own(worker, database):
    """Under pytest-xdist (`make test`), each process sends its Celery messages and keeps its cache
    in its own Redis database, so one process's worker never runs another's tasks."""
    expression = "settings.REDIS_URL, settings.CACHES['default']['LOCATION'], settings.CELERY_BROKER_URL, " + (
        "settings.CELERY_RESULT_BACKEND, settings.COLLECTION_SMS_FILE"
    )
    result = settings_value(
        "config.settings.test",
        expression,
        REDIS_URL="redis://127.0.0.1:6379/15",
        **({"PYTEST_XDIST_WORKER": worker} if worker else {}),
    )

    assert result.returncode == 0, result.stderr
    url, cache, broker, results, sms_file = json.loads(result.stdout)
    assert url == cache == broker == results == f"redis://127.0.0.1:6379/{database}"
    assert Path(sms_file).parent.name == (worker or "main")
