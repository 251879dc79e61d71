"""Deployment (review F14): `check --deploy` under production settings has nothing to report, the
proxy's headers are believed only when configured, pages carry a Content-Security-Policy that
allows no inline script, and /healthz tells an anonymous caller nothing more than that the desk
is up. (The web server's access log: tests/config/test_docker_compose.py.)"""

import json
import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.config.test_settings import settings_value

BASE_DIR = Path(__file__).resolve().parents[2]


def production_env(**extra) -> dict[str, str]:
    return {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "example.com", **extra}


def check_deploy(**env) -> subprocess.CompletedProcess:
    """`manage.py check --deploy` under production settings in a fresh interpreter, failing on
    any warning."""
    clean_env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings.production", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- check --deploy and the production settings ---


def test_check_deploy_reports_nothing_under_production_settings():
    result = check_deploy(**production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_a_tls_proxy_that_redirects_itself_may_turn_the_redirect_off_and_the_check_stays_quiet():
    result = check_deploy(**production_env(SECURE_SSL_REDIRECT="false"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "W008" not in result.stdout


@pytest.mark.parametrize(
    "key", ["change-me-to-50-random-characters", "insecure-development-key-change-me", "x" * 60, "short-key"]
)
def test_production_refuses_the_example_key_and_weak_keys(key):
    result = settings_value("config.settings.production", "settings.DEBUG", SECRET_KEY=key, ALLOWED_HOSTS="a")

    assert result.returncode != 0
    assert "SECRET_KEY must be a random string of at least 50 characters" in result.stderr


def test_production_defaults_are_https_only_with_hsts_and_secure_cookies():
    result = settings_value(
        "config.settings.production",
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.LANGUAGE_COOKIE_SECURE, "
        "settings.SECURE_PROXY_SSL_HEADER, settings.AXES_ENABLED, settings.DESK_ENVIRONMENT",
        **production_env(),
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, 31_536_000, True, True, True, True, None, True, "production"]


def test_hsts_and_the_redirect_are_configurable():
    result = settings_value(
        "config.settings.production",
        "settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, settings.SECURE_HSTS_INCLUDE_SUBDOMAINS",
        **production_env(SECURE_SSL_REDIRECT="false", SECURE_HSTS_SECONDS="3600", SECURE_HSTS_INCLUDE_SUBDOMAINS="no"),
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, 3600, False]


def test_the_proxys_headers_are_believed_only_when_a_trusted_proxy_is_configured():
    expression = "settings.SECURE_PROXY_SSL_HEADER, getattr(settings, 'AXES_CLIENT_IP_CALLABLE', None)"
    untrusted = settings_value("config.settings.production", expression, **production_env())
    trusted = settings_value("config.settings.production", expression, **production_env(DESK_TRUSTED_PROXY="true"))

    assert untrusted.returncode == 0 and trusted.returncode == 0, untrusted.stderr + trusted.stderr
    assert json.loads(untrusted.stdout) == [None, None]
    assert json.loads(trusted.stdout) == [
        ["HTTP_X_FORWARDED_PROTO", "https"],
        "accounts.login_security.client_ip_behind_proxy",
    ]


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_client_cannot_claim_https(client, settings):
    """The review: production trusted X-Forwarded-Proto from anyone, gunicorn being reachable directly."""
    settings.SECURE_PROXY_SSL_HEADER = None
    settings.SECURE_SSL_REDIRECT = True

    response = client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 301 and response.url.startswith("https://")


def test_the_lockout_and_its_middleware_are_on_outside_the_tests():
    result = settings_value(
        "config.settings.local", "settings.AXES_ENABLED, settings.MIDDLEWARE[-1], settings.AUTHENTICATION_BACKENDS"
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        True,
        "axes.middleware.AxesMiddleware",
        ["axes.backends.AxesStandaloneBackend", "accounts.backends.DeskBackend"],
    ]


# --- Content-Security-Policy ---


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    return {
        name: values for name, *values in (directive.split() for directive in header.split(";") if directive.strip())
    }


class InlineCode(HTMLParser):
    """Inline scripts (other than JSON data), <style> elements, style and on* attributes."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._open_script: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes and attributes.get("type") != "application/json":
            self._open_script = self.get_starttag_text()
        if tag == "style":
            self.found.append(self.get_starttag_text())
        for name in attributes:
            if name == "style" or name.startswith("on"):
                self.found.append(self.get_starttag_text())

    def handle_data(self, data):
        if self._open_script is not None and data.strip():
            self.found.append(f"{self._open_script}{data.strip()[:60]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._open_script = None


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["login", "admin:login", "home"])
def test_pages_carry_a_policy_without_inline_script(client, url):
    response = client.get(reverse(url), follow=True)

    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]


def test_no_template_of_the_desk_has_inline_script_or_style():
    found = {
        str(path.relative_to(BASE_DIR)): inline_code(path.read_text(encoding="utf-8"))
        for path in (BASE_DIR / "templates").rglob("*.html")
    }

    assert {path: code for path, code in found.items() if code} == {}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "portfolio",
        "password_change",
        "admin:index",
        "admin:accounts_user_changelist",
        "admin:accounts_user_add",
        "admin:loans_loan_changelist",
        "admin:django_celery_beat_periodictask_add",  # django-celery-beat's own template has an inline script
        "admin:axes_accessattempt_changelist",
    ],
)
def test_the_pages_and_the_admin_run_no_inline_script(client, url):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse(url))

    assert response.status_code == 200
    assert inline_code(response.content.decode()) == []


@pytest.mark.django_db
def test_the_periodic_task_forms_help_comes_from_a_static_file(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get(reverse("admin:django_celery_beat_periodictask_add")).content.decode()

    assert 'id="readable-crontabs" type="application/json"' in page
    assert "desk/js/periodic_task_crontab_help.js" in page
    assert (BASE_DIR / "static" / "desk" / "js" / "periodic_task_crontab_help.js").is_file()


# --- /healthz ---


@pytest.mark.django_db
def test_healthz_tells_an_anonymous_caller_only_that_the_desk_is_up(client):
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1] not in response.content.decode()


@pytest.mark.django_db
def test_the_collector_s_pages_run_no_inline_script(client, collector):
    from tests.collection.factories import CaseFactory

    case = CaseFactory(assigned_to=collector)
    client.force_login(collector)

    for url in (reverse("collection:queue"), reverse("collection:case", args=[case.pk])):
        response = client.get(url)
        assert response.status_code == 200
        assert inline_code(response.content.decode()) == [], url
