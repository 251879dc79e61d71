"""Login lockout (django-axes) on the desk's login and the admin's, the admin's unlock, and the
log of logins, failed logins and logouts. Every login goes through the login pages, as a
browser's does (axes watches `authenticate(request=...)`; the test client's login() bypasses it).

The test settings turn axes off for the rest of the suite; these tests turn it on."""

import datetime
import time

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.urls import reverse

from accounts.roles import SYSTEM_USERNAME
from tests.accounts.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("in_english")]

PASSWORD = "correct-horse-battery"
LIMIT = 5


@pytest.fixture(autouse=True)
def axes_on(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = datetime.timedelta(minutes=15)


@pytest.fixture
def collector(db):
    return UserFactory(username="collector1", password=PASSWORD, roles=["collector"])


@pytest.fixture
def supervisor(db):
    return UserFactory(username="supervisor1", password=PASSWORD, roles=["supervisor"], is_staff=True)


def log_in(client, username, password, *, url="login", **extra):
    return client.post(reverse(url), {"username": username, "password": password}, **extra)


def logged_in_as(client) -> str | None:
    response = client.get(reverse("portfolio"))
    return response.context["user"].username if response.status_code == 200 else None


# --- the review's attack: 50 wrong passwords, then the right one ---


def test_fifty_wrong_passwords_then_the_right_one_is_still_locked_out_on_the_desks_login(client, collector):
    answers = [log_in(client, "collector1", f"collector1-{1000 + n}").status_code for n in range(50)]

    assert answers[: LIMIT - 1] == [200] * (LIMIT - 1)  # the login form again, with its error
    assert set(answers[LIMIT - 1 :]) == {429}  # locked from the fifth failure on
    response = log_in(client, "collector1", PASSWORD)
    assert response.status_code == 429
    assert logged_in_as(client) is None


def test_fifty_wrong_passwords_then_the_right_one_is_still_locked_out_on_the_admins_login(client, supervisor):
    for n in range(50):
        log_in(client, "supervisor1", f"supervisor1-{1000 + n}", url="admin:login")

    response = log_in(client, "supervisor1", PASSWORD, url="admin:login")

    assert response.status_code == 429
    assert client.get(reverse("admin:index")).status_code == 302  # to the admin's login


def test_without_the_lockout_the_same_attack_gets_in(client, collector, settings):
    """What the review found, and what the tests above would see if the lockout went away."""
    settings.AXES_ENABLED = False
    for n in range(50):
        log_in(client, "collector1", f"collector1-{1000 + n}")

    assert log_in(client, "collector1", PASSWORD).status_code == 302
    assert logged_in_as(client) == "collector1"


def test_the_lockout_page_says_what_happened_for_how_long_and_who_can_lift_it(client, collector):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for n in range(LIMIT):
        response = log_in(client, "collector1", f"wrong-{n}")

    page = response.content.decode()
    assert response.status_code == 429
    assert "Login locked" in page
    assert f"after {LIMIT} failed logins" in page
    assert "Try again in 15 minutes" in page
    assert "An admin can unlock it" in page


def test_the_lockout_page_speaks_the_desks_language(client, collector):
    for n in range(LIMIT):
        response = log_in(client, "collector1", f"wrong-{n}")

    assert response.status_code == 429
    assert "registration/locked_out.html" in [template.name for template in response.templates]
    assert '<html lang="zh-hans">' in response.content.decode()


def test_the_lock_holds_one_username_at_one_address(client, collector, supervisor):
    for n in range(LIMIT):
        log_in(client, "collector1", f"wrong-{n}")

    assert log_in(client, "collector1", PASSWORD).status_code == 429
    # Another user at the same address, and the same user at another address, log in.
    assert log_in(client, "supervisor1", PASSWORD).status_code == 302
    client.logout()
    assert log_in(client, "collector1", PASSWORD, REMOTE_ADDR="10.1.2.3").status_code == 302


def test_behind_the_trusted_proxy_a_made_up_forwarded_for_does_not_escape_the_lock(client, collector, settings):
    """The proxy appends the address it saw; what the client put further left is ignored."""
    settings.AXES_CLIENT_IP_CALLABLE = "accounts.login_security.client_ip_behind_proxy"
    for n in range(LIMIT):
        log_in(client, "collector1", f"wrong-{n}", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 203.0.113.7")

    response = log_in(client, "collector1", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.99, 203.0.113.7")

    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.7"}


def test_the_lock_ends_after_the_cool_off(client, collector, settings):
    settings.AXES_COOLOFF_TIME = datetime.timedelta(seconds=1)
    for n in range(LIMIT):
        log_in(client, "collector1", f"wrong-{n}")
    assert log_in(client, "collector1", PASSWORD).status_code == 429

    time.sleep(1.1)

    assert log_in(client, "collector1", PASSWORD).status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(client, collector):
    for n in range(LIMIT - 1):
        log_in(client, "collector1", f"wrong-{n}")
    assert log_in(client, "collector1", PASSWORD).status_code == 302
    client.logout()

    for n in range(LIMIT - 1):
        log_in(client, "collector1", f"wrong-again-{n}")

    assert log_in(client, "collector1", PASSWORD).status_code == 302


def test_an_attempt_keeps_neither_the_password_nor_the_csrf_token(client, collector):
    client = type(client)(enforce_csrf_checks=True)
    token = client.get(reverse("login")).context["csrf_token"]

    client.post(
        reverse("login"), {"username": "collector1", "password": "my-secret-guess", "csrfmiddlewaretoken": token}
    )

    attempt = AccessAttempt.objects.get()
    assert attempt.username == "collector1"
    assert "my-secret-guess" not in attempt.post_data
    assert str(token) not in attempt.post_data


# --- the admin's unlock ---


def test_an_admin_unlocks_a_locked_user_by_deleting_the_attempt(client, collector):
    for n in range(LIMIT):
        log_in(client, "collector1", f"wrong-{n}")
    attempt = AccessAttempt.objects.get(username="collector1")
    admin = UserFactory(username="desk-admin", roles=["admin"], is_staff=True)
    client.force_login(admin)

    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200 and "collector1" in listing.content.decode()
    assert client.get(reverse("admin:axes_accessattempt_change", args=[attempt.pk])).status_code == 200
    response = client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert response.status_code == 302
    client.logout()

    assert not AccessAttempt.objects.exists()
    assert log_in(client, "collector1", PASSWORD).status_code == 302


def test_an_attempt_cannot_be_edited_and_only_the_admin_role_sees_or_deletes_it(client, collector):
    log_in(client, "collector1", "wrong")
    attempt = AccessAttempt.objects.get()
    change = reverse("admin:axes_accessattempt_change", args=[attempt.pk])
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])

    client.force_login(UserFactory(roles=["admin"], is_staff=True))
    client.post(change, {"username": "someone-else", "failures_since_start": 0})
    assert AccessAttempt.objects.get().username == "collector1"

    client.force_login(UserFactory(roles=["supervisor"], is_staff=True))
    assert client.get(change).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AccessAttempt.objects.exists()


# --- logins, failed logins and logouts recorded ---


def test_logins_failed_logins_and_logouts_are_recorded(client, collector):
    log_in(client, "collector1", "wrong")
    log_in(client, "collector1", "wrong-too", url="admin:login")
    log_in(client, "collector1", PASSWORD)
    client.post(reverse("logout"))

    failures = list(AccessFailureLog.objects.order_by("attempt_time").values_list("username", "path_info"))
    assert failures == [("collector1", reverse("login")), ("collector1", reverse("admin:login"))]
    login = AccessLog.objects.get()
    assert (login.username, login.path_info, login.ip_address) == ("collector1", reverse("login"), "127.0.0.1")
    assert login.logout_time is not None


@pytest.mark.parametrize("model", ["accesslog", "accessfailurelog"])
def test_the_admin_role_reads_the_login_logs_and_nobody_edits_or_deletes_them(client, collector, model):
    log_in(client, "collector1", "wrong")
    log_in(client, "collector1", PASSWORD)
    client.post(reverse("logout"))
    row = (AccessLog if model == "accesslog" else AccessFailureLog).objects.get()
    change = reverse(f"admin:axes_{model}_change", args=[row.pk])
    delete = reverse(f"admin:axes_{model}_delete", args=[row.pk])

    client.force_login(UserFactory(roles=["admin"], is_staff=True))
    listing = client.get(reverse(f"admin:axes_{model}_changelist"))
    assert listing.status_code == 200 and "collector1" in listing.content.decode()
    assert client.get(change).status_code == 200
    assert client.get(reverse(f"admin:axes_{model}_add")).status_code == 403

    for user in (UserFactory(roles=["admin"], is_staff=True), UserFactory(is_staff=True, is_superuser=True)):
        client.force_login(user)
        assert client.post(delete, {"post": "yes"}).status_code == 403
        response = client.post(
            reverse(f"admin:axes_{model}_changelist"),
            {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
        )
        assert response.status_code in (200, 302)
    assert type(row).objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("role", ["collector", "supervisor", "legal_officer"])
def test_other_roles_do_not_see_the_login_logs(client, role):
    client.force_login(UserFactory(roles=[role], is_staff=True))

    for model in ("accesslog", "accessfailurelog", "accessattempt"):
        assert client.get(reverse(f"admin:axes_{model}_changelist")).status_code == 403


def test_the_system_account_cannot_log_in_even_with_a_password(client, django_user_model):
    system = django_user_model.objects.get(username=SYSTEM_USERNAME)
    system.set_password(PASSWORD)
    system.save()

    for url in ("login", "admin:login"):
        assert log_in(client, SYSTEM_USERNAME, PASSWORD, url=url).status_code == 200
    assert logged_in_as(client) is None
    assert not AccessLog.objects.exists()
