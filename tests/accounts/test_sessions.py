"""Sessions end after a configurable idle time and when the browser closes; a logged-in user
changes their own password. Sessions used to last 14 days whatever happened (review F8)."""

import json
import time

import pytest
from django.conf import settings
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.config.test_settings import settings_value

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def user(db):
    return UserFactory(username="collector1", password=PASSWORD, roles=["collector"])


@pytest.fixture
def client(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def log_in(client, password=PASSWORD):
    return client.post(reverse("login"), {"username": "collector1", "password": password})


def test_sessions_idle_out_after_30_minutes_by_default_and_at_browser_close():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE


def test_the_idle_time_comes_from_the_environment():
    result = settings_value("config.settings.local", "settings.SESSION_COOKIE_AGE", DESK_SESSION_IDLE_MINUTES="45")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [45 * 60]


def test_the_session_cookie_ends_with_the_browser(client, user):
    response = log_in(client)

    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert response.status_code == 302
    assert cookie["max-age"] == "" and cookie["expires"] == ""


def test_a_session_idle_longer_than_the_idle_time_is_over_and_activity_keeps_it(client, user, settings):
    settings.SESSION_COOKIE_AGE = 4  # seconds
    assert log_in(client).status_code == 302

    # Requests closer together than the idle time keep the session, past its first expiry.
    for _ in range(2):
        time.sleep(2.5)
        assert client.get(reverse("portfolio")).status_code == 200

    time.sleep(4.5)
    response = client.get(reverse("portfolio"))

    assert response.status_code == 302 and response.url.startswith(reverse("login"))


# --- changing one's password ---


def test_the_layout_links_the_password_change_for_a_logged_in_user(client, user):
    client.force_login(user)

    assert f'href="{reverse("password_change")}"' in client.get(reverse("portfolio")).content.decode()


def test_changing_ones_password_needs_a_login(client):
    response = client.get(reverse("password_change"))

    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_user_changes_their_password_and_logs_in_with_the_new_one(client, user):
    log_in(client)
    assert client.get(reverse("password_change")).status_code == 200

    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "tawny-owl-at-dusk-42", "new_password2": "tawny-owl-at-dusk-42"},
    )

    assert response.status_code == 302 and response.url == reverse("password_change_done")
    assert "Password changed" in client.get(response.url).content.decode()
    assert client.get(reverse("portfolio")).status_code == 200  # still logged in
    client.post(reverse("logout"))
    assert log_in(client).status_code == 200  # the old password is refused
    assert log_in(client, "tawny-owl-at-dusk-42").status_code == 302


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("wrong-old-password", "tawny-owl-at-dusk-42", "Your old password was entered incorrectly"),
        (PASSWORD, "12345678", "This password is entirely numeric"),
        (PASSWORD, "collector1", "too similar to the username"),
    ],
)
def test_a_password_change_is_refused_with_the_reason(client, user, old, new, error):
    log_in(client)

    response = client.post(
        reverse("password_change"), {"old_password": old, "new_password1": new, "new_password2": new}
    )

    assert response.status_code == 200
    assert error in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
